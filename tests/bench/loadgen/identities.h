#pragma once

// Simulated devices' key material.
//
// An identities file holds, per device, its ID certificate PEM followed by its private key PEM
// (PKCS#8), nothing else: `register` mode writes it, the mTLS modes read it. The file holds
// private keys: it is written with mode 0600 and belongs in the benchmark's scratch directory.

#include <openssl/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/crypto/openssl_ptr.h"
#include "common/status.h"

namespace outpost::bench {

// A device's certificate and key, parsed once so each TLS connection only takes references.
struct DeviceIdentity {
  crypto::X509Ptr certificate;
  crypto::EvpPkeyPtr key;
};

Result<std::vector<DeviceIdentity>> LoadIdentities(const std::filesystem::path& path);

// A key and a CSR made from it, ready for a registration request.
struct PendingDevice {
  std::string key_pem;
  std::string csr_pem;
};

// `count` fresh keys ("ecdsa-p256-sha256" or "ed25519") with CSRs, made on `threads` threads before
// the measured window so key generation does not count against the server.
Result<std::vector<PendingDevice>> MakePendingDevices(size_t count, const std::string& algorithm,
                                                      int threads);

// Appends (certificate, key) pairs to `path` (created with mode 0600).
Status SaveIdentities(const std::filesystem::path& path,
                      const std::vector<std::pair<std::string, std::string>>& cert_and_key_pems);

}  // namespace outpost::bench
