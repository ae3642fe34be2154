#pragma once

#include <filesystem>

namespace outpost::central {

// Layout of a central data directory (written by `outpost central init`). Key files are mode
// 0600 inside a 0700 keys/ directory; ca.pem is the CA that enrollment bundles pin for online
// sync and that signs central's TLS certificate.
struct CentralDataDir {
  explicit CentralDataDir(std::filesystem::path root) : root(std::move(root)) {}

  std::filesystem::path database() const { return root / "central.db"; }
  std::filesystem::path ca_certificate() const { return root / "ca.pem"; }
  std::filesystem::path keys() const { return root / "keys"; }
  std::filesystem::path signing_key() const { return keys() / "signing.key"; }
  // The key announced by `outpost central key rotate` (satellites move to it one by one).
  std::filesystem::path next_signing_key() const { return keys() / "signing.next.key"; }
  // During `central key retire` only: the retired private key, moved aside to be destroyed.
  std::filesystem::path retired_signing_key() const { return keys() / "signing.retired.key"; }
  // The public keys of retired signing keys, KEY_ID.pem, to verify bundles they signed.
  std::filesystem::path retired_keys() const { return root / "retired-keys"; }
  std::filesystem::path ca_key() const { return keys() / "ca.key"; }
  std::filesystem::path tls_key() const { return keys() / "tls.key"; }
  std::filesystem::path tls_certificate() const { return root / "tls" / "server.pem"; }

  std::filesystem::path root;
};

}  // namespace outpost::central
