#pragma once

// What a registered device keeps on disk: its state directory.
//
// Layout (every file written atomically; the directory is created with mode 0700):
//   device.key         the device's ECDSA P-256 private key, PKCS#8 PEM, mode 0600
//   device.crt         the ID certificate the satellite issued (PEM)
//   ca-chain.pem       the satellite CA chain from the registration answer (root last)
//   server-ca.pem      the CA(s) trusted for the satellite's TLS certificate (`--ca` at register)
//   server-url         the satellite's URL, one line
//   registration.json  the RegisterResponse (protobuf JSON mapping): instance id, VA, UDI,
//                      satellite id, the pinned authorization signing key and its key id
//   authorization.pb   the last SignedAuthorization, binary protobuf, exactly as received
//   released           present once the device released its licenses and deregistered
//                      (holds the ReleaseResponse as JSON)
//   device.key.next    during a certificate renewal only: the new key, mode 0600
// registration.json is written last, so a registration interrupted half-way is detected on the
// next Load (the files do not agree) instead of being half used.
//
// A renewal (SaveRenewalKey, then ApplyRenewal) swaps key and certificate so that a crash at any
// point leaves a usable state: the new key is written to device.key.next before the satellite
// is asked; registration.json with the new certificate is the commit point; then device.key,
// ca-chain.pem and device.crt are rewritten and device.key.next is removed last. Load finishes
// an interrupted swap: when device.key.next is the key registration.json certifies, it is the
// key, and the other files are rewritten from it and registration.json. Before the commit point
// the old key and certificate stay in use (a stray device.key.next is replaced by the next
// renewal).
//
// Thread-safety: a DeviceState is not synchronised; const methods may run concurrently. Two
// processes writing the same directory do not corrupt files (each write is atomic) but the last
// writer wins.
// Errors: Load returns kFailedPrecondition "not registered ..." when there is no registration,
// kDataLoss naming the file when the state is damaged or inconsistent, and the file's own error
// (e.g. a key file others can read) otherwise. FromRegistration returns kUnauthenticated when
// the satellite's answer does not check out.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/crypto/keys.h"
#include "common/crypto/x509.h"
#include "common/status.h"
#include "outpost/v1/devices.pb.h"

namespace outpost::client {

inline constexpr char kKeyFile[] = "device.key";
inline constexpr char kCertificateFile[] = "device.crt";
inline constexpr char kCaChainFile[] = "ca-chain.pem";
inline constexpr char kServerCaFile[] = "server-ca.pem";
inline constexpr char kServerUrlFile[] = "server-url";
inline constexpr char kRegistrationFile[] = "registration.json";
inline constexpr char kAuthorizationFile[] = "authorization.pb";
inline constexpr char kReleasedFile[] = "released";
inline constexpr char kNextKeyFile[] = "device.key.next";
// Every state file is at most this large; Load treats a larger one as damage, so nothing larger
// is ever written.
inline constexpr size_t kMaxStateFileBytes = 1 << 20;

// Ok iff `dir` can become a state directory: it does not exist yet (its parent may not either),
// or it is a directory that is empty or that group and others cannot access. Register calls it
// before it contacts the satellite, so a bad directory does not use up a token.
Status CheckStateDir(const std::filesystem::path& dir);

class DeviceState {
 public:
  // Reads and cross-checks the state in `dir`: the certificate is for the key, registration.json
  // agrees with device.crt and ca-chain.pem, the signing key parses and has the pinned key id.
  static Result<DeviceState> Load(const std::filesystem::path& dir);

  // Checks a registration answer before anything is stored: every field has its shape and size
  // (instance and satellite ids 1..64 of [A-Za-z0-9._:-] starting with a letter or digit, a
  // virtual account name, a PID:SN UDI, PEM and texts bounded, 1..8 CA certificates); the
  // certificate is for `key`, names the instance (CN = instance id), is a TLS client certificate
  // and chains at `now` to a root the device already trusts: one of `server_ca_pem` (what the
  // operator gave with --ca) or of `pinned_roots` (the CA of the registration being replaced).
  // The answer's own chain supplies intermediates only, and its last certificate (its root) must
  // be one of those trusted roots. The signing key is Ed25519 PEM whose key id is the one sent.
  static Result<DeviceState> FromRegistration(
      std::filesystem::path dir, std::string server_url, std::string server_ca_pem,
      crypto::PrivateKey key, v1::RegisterResponse registration, TimePoint now,
      const std::vector<crypto::Certificate>& pinned_roots = {});

  DeviceState(DeviceState&&) noexcept = default;
  DeviceState& operator=(DeviceState&&) noexcept = default;

  // Creates the directory (mode 0700; an existing one must be empty or not accessible by group
  // and others) and writes the state, replacing a previous registration and forgetting its
  // authorization and release.
  Status Save();

  // The root of the satellite CA chain pinned at registration (ca-chain.pem's last certificate).
  Result<crypto::Certificate> PinnedCaRoot() const;

  // Stores `signed_authorization` as the last one (authorization.pb), atomically: the previous
  // one stays whole until the new one replaces it. Refused (kInvalidArgument, nothing written)
  // when its serialized form exceeds kMaxStateFileBytes; callers store CanonicalSignedForm().
  Status SaveAuthorization(const v1::SignedAuthorization& signed_authorization) const;
  // The last stored SignedAuthorization, or nullopt if the device never authorized. Not verified
  // here (see authorization.h).
  Result<std::optional<v1::SignedAuthorization>> LoadAuthorization() const;

  // Renewal, step 1: writes `key` as device.key.next (0600, atomically), before the satellite
  // is asked for a certificate for it.
  Status SaveRenewalKey(const crypto::PrivateKey& key) const;
  // Renewal, step 2: checks the satellite's answer like FromRegistration (trusting only the CA
  // pinned at registration and the --ca given then) and that it is this device's registration
  // still — same instance, VA, UDI, satellite, signing key and export permission — with a
  // certificate for `key`; then stores it in the crash-safe order above and becomes it.
  // kUnauthenticated (nothing stored) when the answer does not check out.
  Status ApplyRenewal(v1::RegisterResponse renewed, crypto::PrivateKey key, TimePoint now);

  // Marks the device as released (the `released` file) and remembers it.
  Status MarkReleased(const v1::ReleaseResponse& release);

  const std::filesystem::path& dir() const { return dir_; }
  const std::string& server_url() const { return server_url_; }
  const std::string& server_ca_pem() const { return server_ca_pem_; }
  const v1::RegisterResponse& registration() const { return registration_; }
  const crypto::PrivateKey& key() const { return key_; }
  const crypto::Certificate& certificate() const { return certificate_; }
  const crypto::PublicKey& signing_key() const { return signing_key_; }
  bool released() const { return released_; }

 private:
  DeviceState(std::filesystem::path dir, std::string server_url, std::string server_ca_pem,
              v1::RegisterResponse registration, crypto::PrivateKey key,
              crypto::Certificate certificate, crypto::PublicKey signing_key)
      : dir_(std::move(dir)),
        server_url_(std::move(server_url)),
        server_ca_pem_(std::move(server_ca_pem)),
        registration_(std::move(registration)),
        key_(std::move(key)),
        certificate_(std::move(certificate)),
        signing_key_(std::move(signing_key)) {}

  // Renewal, last step (also Load's repair): device.key from the key in use, ca-chain.pem and
  // device.crt from registration.json, then device.key.next removed.
  Status FinishRenewal() const;

  std::filesystem::path dir_;
  std::string server_url_;
  std::string server_ca_pem_;
  v1::RegisterResponse registration_;
  crypto::PrivateKey key_;
  crypto::Certificate certificate_;
  crypto::PublicKey signing_key_;
  bool released_ = false;
};

}  // namespace outpost::client
