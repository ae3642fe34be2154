#include "client/device_state.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <tuple>
#include <vector>

#include "client/authorization.h"
#include "common/crypto/ca.h"
#include "common/crypto/secure_file.h"
#include "common/names.h"
#include "common/proto_json.h"

namespace outpost::client {
namespace {

namespace fs = std::filesystem;
using crypto::IfExists;

// Every state file is small; anything larger is not ours.
constexpr size_t kMaxFileBytes = kMaxStateFileBytes;
// Bounds of a registration answer's fields: generous for what a satellite sends (one P-256
// certificate is under 1 KiB, its chain one certificate), small enough that a hostile answer
// cannot grow the state past kMaxFileBytes.
constexpr size_t kMaxCertificatePemBytes = 16 * 1024;
constexpr int kMaxCaChainCertificates = 8;
constexpr size_t kMaxSigningKeyPemBytes = 1024;
constexpr size_t kMaxTextBytes = 64;
constexpr fs::perms kPublicFile =
    fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read;
constexpr fs::perms kSecretFile = fs::perms::owner_read | fs::perms::owner_write;

std::string Quote(const fs::path& p) { return "'" + p.string() + "'"; }

Status NotRegistered(const fs::path& dir) {
  return FailedPrecondition("not registered: no device state in " + Quote(dir) +
                            "; run `outpost device register` first");
}

Status Damaged(const fs::path& dir, const std::string& what) {
  return DataLoss("device state in " + Quote(dir) + " is damaged: " + what +
                  "; register again with `outpost device register`");
}

// The file's error as it is, unless it is "missing" or "unreadable content", which in a state
// directory that has a registration.json means damage.
Status AsDamage(const fs::path& dir, const Status& s) {
  if (s.code() == Errc::kFailedPrecondition) return s;  // e.g. key permissions: the fix is chmod
  return Damaged(dir, s.message());
}

// Whether `certificate` is for `key`.
bool CertifiesKey(const crypto::Certificate& certificate, const crypto::PrivateKey& key) {
  auto certified = certificate.public_key();
  return certified.ok() && *certified == key.public_key();
}

// The checks shared by a fresh registration and a loaded state.
Status CheckConsistent(const v1::RegisterResponse& registration, const crypto::PrivateKey& key,
                       const crypto::Certificate& certificate,
                       const crypto::PublicKey& signing_key) {
  OUTPOST_ASSIGN_OR_RETURN(crypto::PublicKey certified, certificate.public_key());
  if (!(certified == key.public_key())) {
    return Unauthenticated("the ID certificate is not for this device's key");
  }
  if (registration.instance_id().empty()) return Unauthenticated("the instance id is empty");
  if (certificate.subject_common_name() != registration.instance_id()) {
    return Unauthenticated("the ID certificate names " +
                           QuoteForMessage(certificate.subject_common_name()) + ", not instance " +
                           QuoteForMessage(registration.instance_id()));
  }
  if (registration.satellite_id().empty()) return Unauthenticated("the satellite id is empty");
  if (AlgorithmName(signing_key.algorithm()) != kAuthorizationAlgorithm) {
    return Unauthenticated("the authorization signing key is " +
                           std::string(AlgorithmName(signing_key.algorithm())) + ", expected " +
                           std::string(kAuthorizationAlgorithm));
  }
  if (signing_key.KeyId() != registration.signing_key_id()) {
    return Unauthenticated("the authorization signing key has key id " + signing_key.KeyId() +
                           ", but the satellite named " +
                           QuoteForMessage(registration.signing_key_id()));
  }
  return Status::Ok();
}

Result<crypto::PublicKey> ParseSigningKey(const v1::RegisterResponse& registration) {
  auto key = crypto::PublicKey::FromPem(registration.signing_public_key_pem());
  if (!key.ok()) {
    return Unauthenticated("the authorization signing key is not usable: " +
                           key.status().message());
  }
  return key;
}

// An identifier a satellite makes (a UUID; "inst-1" in tests): never a path, never empty.
Status CheckId(std::string_view id, std::string_view what) {
  return CheckName(id, what, 64, "._:-", "letters, digits, '.', '_', ':' and '-'",
                   /*alnum_first=*/true);
}

Status CheckBounded(std::string_view text, size_t max, std::string_view what) {
  if (text.size() <= max) return Status::Ok();
  return InvalidArgument(std::string(what) + " is " + std::to_string(text.size()) +
                         " bytes; at most " + std::to_string(max) + " are allowed");
}

// The shape and size of every field of a registration answer, before any of it is parsed as a
// certificate or a key: whatever is stored must load again, and an identifier is never a path.
Status CheckRegistrationFields(const v1::RegisterResponse& r) {
  OUTPOST_RETURN_IF_ERROR(CheckId(r.instance_id(), "the instance id"));
  OUTPOST_RETURN_IF_ERROR(CheckId(r.satellite_id(), "the satellite id"));
  if (!r.replaced_instance_id().empty()) {
    OUTPOST_RETURN_IF_ERROR(CheckId(r.replaced_instance_id(), "the replaced instance id"));
  }
  OUTPOST_RETURN_IF_ERROR(ValidateVaName(r.va()));
  const size_t colon = r.udi().find(':');
  if (colon == std::string::npos) {
    return InvalidArgument("the UDI " + QuoteForMessage(r.udi()) + " is not PID:SN");
  }
  const std::string_view udi = r.udi();
  for (const auto& [part, what] : {std::pair{udi.substr(0, colon), "the UDI's product id"},
                                   std::pair{udi.substr(colon + 1), "the UDI's serial number"}}) {
    OUTPOST_RETURN_IF_ERROR(CheckName(part, what, 64, "._-", "letters, digits, '.', '_' and '-'"));
  }
  OUTPOST_RETURN_IF_ERROR(
      CheckBounded(r.certificate_pem(), kMaxCertificatePemBytes, "the ID certificate"));
  if (r.ca_chain_pem_size() > kMaxCaChainCertificates) {
    return InvalidArgument("the CA chain holds " + std::to_string(r.ca_chain_pem_size()) +
                           " certificates; at most " + std::to_string(kMaxCaChainCertificates) +
                           " are allowed");
  }
  for (const auto& pem : r.ca_chain_pem()) {
    OUTPOST_RETURN_IF_ERROR(
        CheckBounded(pem, kMaxCertificatePemBytes, "a certificate of the CA chain"));
  }
  OUTPOST_RETURN_IF_ERROR(CheckBounded(r.signing_public_key_pem(), kMaxSigningKeyPemBytes,
                                       "the authorization signing key"));
  OUTPOST_RETURN_IF_ERROR(CheckId(r.signing_key_id(), "the signing key id"));
  OUTPOST_RETURN_IF_ERROR(
      CheckBounded(r.certificate_not_after_text(), kMaxTextBytes, "the certificate's expiry text"));
  OUTPOST_RETURN_IF_ERROR(
      CheckBounded(r.renew_after_text(), kMaxTextBytes, "the renewal time text"));
  return Status::Ok();
}

Result<std::vector<crypto::Certificate>> ParseChain(const v1::RegisterResponse& registration) {
  std::vector<crypto::Certificate> chain;
  for (const auto& pem : registration.ca_chain_pem()) {
    OUTPOST_ASSIGN_OR_RETURN(auto cert, crypto::Certificate::FromPem(pem));
    chain.push_back(std::move(cert));
  }
  if (chain.empty()) return Unauthenticated("the answer holds no CA chain");
  return chain;
}

}  // namespace

Status CheckStateDir(const fs::path& dir) {
  if (dir.empty()) return InvalidArgument("no state directory given");
  std::error_code ec;
  const fs::file_status st = fs::symlink_status(dir, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return Internal("cannot inspect " + Quote(dir) + ": " + ec.message());
  }
  if (!fs::exists(st)) return Status::Ok();
  if (!fs::is_directory(st)) {
    return FailedPrecondition(Quote(dir) +
                              " exists and is not a directory; choose another "
                              "--state-dir");
  }
  const auto open_to_others =
      fs::perms::group_all | fs::perms::others_all;  // the key must stay the owner's
  if ((st.permissions() & open_to_others) == fs::perms::none) return Status::Ok();
  if (fs::is_empty(dir, ec) && !ec) return Status::Ok();  // Save narrows it to 0700
  return FailedPrecondition("state directory " + Quote(dir) +
                            " is accessible by group or others and not empty; `chmod 700` it or "
                            "choose a new --state-dir");
}

Result<DeviceState> DeviceState::FromRegistration(
    fs::path dir, std::string server_url, std::string server_ca_pem, crypto::PrivateKey key,
    v1::RegisterResponse registration, TimePoint now,
    const std::vector<crypto::Certificate>& pinned_roots) {
  auto build = [&]() -> Result<DeviceState> {
    OUTPOST_RETURN_IF_ERROR(CheckRegistrationFields(registration));
    OUTPOST_ASSIGN_OR_RETURN(auto certificate,
                             crypto::Certificate::FromPem(registration.certificate_pem()));
    OUTPOST_ASSIGN_OR_RETURN(auto chain, ParseChain(registration));
    OUTPOST_ASSIGN_OR_RETURN(auto signing_key, ParseSigningKey(registration));
    OUTPOST_RETURN_IF_ERROR(CheckConsistent(registration, key, certificate, signing_key));
    // Trust comes from the device's side only: the CA the operator gave (--ca) or the one pinned
    // by the registration this one replaces. A root the answer brings along proves nothing, since
    // whoever forged the answer made it too; the answer's chain ("root last") is stored for
    // other tools, so its root must be one of the trusted ones and the rest are intermediates.
    auto roots = crypto::Certificate::ParsePemChain(server_ca_pem);
    if (!roots.ok())
      return Unauthenticated("the trusted CA is not usable: " + roots.status().message());
    roots->insert(roots->end(), pinned_roots.begin(), pinned_roots.end());
    if (std::find(roots->begin(), roots->end(), chain.back()) == roots->end()) {
      return Unauthenticated(
          "the answer's CA chain ends at " + QuoteForMessage(chain.back().subject_common_name()) +
          ", which is neither the CA given with --ca nor the one pinned at the last registration");
    }
    chain.pop_back();
    OUTPOST_RETURN_IF_ERROR(
        crypto::VerifyChain(certificate, chain, *roots, now, crypto::CertificateProfile::kClient));
    return DeviceState(std::move(dir), std::move(server_url), std::move(server_ca_pem),
                       std::move(registration), std::move(key), std::move(certificate),
                       std::move(signing_key));
  };
  auto state = build();
  if (!state.ok()) {
    return Status(Errc::kUnauthenticated,
                  "the satellite's registration answer does not check out (nothing was saved): " +
                      state.status().message());
  }
  return state;
}

Result<DeviceState> DeviceState::Load(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec) || !fs::exists(dir / kRegistrationFile, ec)) {
    return NotRegistered(dir);
  }
  auto read = [&dir](const char* name) -> Result<std::string> {
    auto content = crypto::ReadSmallFile(dir / name, kMaxFileBytes);
    if (!content.ok()) return AsDamage(dir, content.status());
    return content;
  };
  OUTPOST_ASSIGN_OR_RETURN(std::string json, read(kRegistrationFile));
  v1::RegisterResponse registration;
  if (Status s = FromJson(json, &registration); !s.ok()) {
    return Damaged(dir, std::string(kRegistrationFile) + " is not a registration: " + s.message());
  }
  auto key = crypto::PrivateKey::LoadFile(dir / kKeyFile);
  if (!key.ok()) return AsDamage(dir, key.status());
  OUTPOST_ASSIGN_OR_RETURN(std::string certificate_pem, read(kCertificateFile));
  OUTPOST_ASSIGN_OR_RETURN(std::string chain_pem, read(kCaChainFile));
  OUTPOST_ASSIGN_OR_RETURN(std::string server_ca_pem, read(kServerCaFile));
  OUTPOST_ASSIGN_OR_RETURN(std::string server_url, read(kServerUrlFile));
  while (!server_url.empty() && (server_url.back() == '\n' || server_url.back() == '\r')) {
    server_url.pop_back();
  }

  auto certificate = crypto::Certificate::FromPem(registration.certificate_pem());
  if (!certificate.ok()) {
    return Damaged(dir, kRegistrationFile + (": " + certificate.status().message()));
  }
  // A renewal interrupted after its commit point (registration.json) and before its last step
  // (removing device.key.next): device.key.next is the key registration.json certifies, and
  // device.key, device.crt and ca-chain.pem may still be the old ones. Finish it below.
  bool finish_renewal = false;
  if (fs::exists(dir / kNextKeyFile, ec)) {
    if (auto next = crypto::PrivateKey::LoadFile(dir / kNextKeyFile);
        next.ok() && CertifiesKey(*certificate, *next)) {
      key = std::move(next);
      finish_renewal = true;
    }
  }
  // The separate PEM files are for other tools (curl --cert); registration.json is the record.
  // They must agree, or a registration was interrupted half-way.
  std::string expected_chain;
  for (const auto& pem : registration.ca_chain_pem()) expected_chain += pem;
  if (!finish_renewal &&
      (certificate_pem != registration.certificate_pem() || chain_pem != expected_chain)) {
    return Damaged(dir, std::string(kCertificateFile) + " or " + kCaChainFile + " does not match " +
                            kRegistrationFile);
  }
  if (auto chain = ParseChain(registration); !chain.ok()) {
    return Damaged(dir, kCaChainFile + (": " + chain.status().message()));
  }
  if (auto roots = crypto::Certificate::ParsePemChain(server_ca_pem); !roots.ok()) {
    return Damaged(dir, kServerCaFile + (": " + roots.status().message()));
  }
  auto signing_key = ParseSigningKey(registration);
  if (!signing_key.ok()) return Damaged(dir, signing_key.status().message());
  if (Status s = CheckConsistent(registration, *key, *certificate, *signing_key); !s.ok()) {
    return Damaged(dir, s.message());
  }
  DeviceState state(dir, std::move(server_url), std::move(server_ca_pem), std::move(registration),
                    std::move(*key), std::move(*certificate), std::move(*signing_key));
  state.released_ = fs::exists(dir / kReleasedFile, ec);
  if (finish_renewal) {
    // Best effort: the state in memory is right either way, and the next Load tries again.
    (void)state.FinishRenewal();
  }
  return state;
}

Status DeviceState::SaveRenewalKey(const crypto::PrivateKey& key) const {
  return crypto::WriteFileAtomically(dir_ / kNextKeyFile, key.ToPem(), kSecretFile,
                                     IfExists::kReplace);
}

Status DeviceState::ApplyRenewal(v1::RegisterResponse renewed, crypto::PrivateKey key,
                                 TimePoint now) {
  const v1::RegisterResponse& current = registration_;
  std::vector<crypto::Certificate> pinned;
  if (auto root = PinnedCaRoot(); root.ok()) pinned.push_back(std::move(*root));
  OUTPOST_ASSIGN_OR_RETURN(DeviceState next,
                           FromRegistration(dir_, server_url_, server_ca_pem_, std::move(key),
                                            std::move(renewed), now, pinned));
  const v1::RegisterResponse& r = next.registration_;
  for (const auto& [field, was, is] :
       {std::tuple{"instance id", current.instance_id(), r.instance_id()},
        std::tuple{"virtual account", current.va(), r.va()},
        std::tuple{"UDI", current.udi(), r.udi()},
        std::tuple{"satellite id", current.satellite_id(), r.satellite_id()},
        std::tuple{"signing key id", current.signing_key_id(), r.signing_key_id()},
        std::tuple{"signing key", current.signing_public_key_pem(), r.signing_public_key_pem()},
        std::tuple{"replaced instance id", std::string(), r.replaced_instance_id()}}) {
    if (was != is) {
      return Unauthenticated(
          "the satellite's renewal answer does not check out (nothing was saved): its " +
          std::string(field) + " is " + QuoteForMessage(is) + ", not " + QuoteForMessage(was));
    }
  }
  if (r.export_allowed() != current.export_allowed()) {
    return Unauthenticated(
        "the satellite's renewal answer does not check out (nothing was saved): it changes the "
        "export permission, which only a registration sets");
  }
  // The commit point: from here on Load takes the new certificate, with device.key.next until
  // device.key is replaced.
  OUTPOST_RETURN_IF_ERROR(crypto::WriteFileAtomically(dir_ / kRegistrationFile, ToJson(r, true),
                                                      kPublicFile, IfExists::kReplace));
  registration_ = std::move(next.registration_);
  key_ = std::move(next.key_);
  certificate_ = std::move(next.certificate_);
  return FinishRenewal();
}

Status DeviceState::FinishRenewal() const {
  std::string chain_pem;
  for (const auto& pem : registration_.ca_chain_pem()) chain_pem += pem;
  OUTPOST_RETURN_IF_ERROR(
      crypto::WriteFileAtomically(dir_ / kKeyFile, key_.ToPem(), kSecretFile, IfExists::kReplace));
  OUTPOST_RETURN_IF_ERROR(
      crypto::WriteFileAtomically(dir_ / kCaChainFile, chain_pem, kPublicFile, IfExists::kReplace));
  OUTPOST_RETURN_IF_ERROR(crypto::WriteFileAtomically(
      dir_ / kCertificateFile, registration_.certificate_pem(), kPublicFile, IfExists::kReplace));
  // Last: while device.key.next exists, Load knows that a renewal is being finished.
  std::error_code ec;
  fs::remove(dir_ / kNextKeyFile, ec);
  if (ec) return Internal("cannot remove " + Quote(dir_ / kNextKeyFile) + ": " + ec.message());
  return Status::Ok();
}

Status DeviceState::Save() {
  OUTPOST_RETURN_IF_ERROR(CheckStateDir(dir_));
  std::error_code ec;
  if (!fs::exists(dir_, ec)) {
    if (dir_.has_parent_path()) {
      fs::create_directories(dir_.parent_path(), ec);
      if (ec) return Internal("cannot create " + Quote(dir_.parent_path()) + ": " + ec.message());
    }
    // mkdir with the final mode (narrowed further by the umask only), so there is no moment in
    // which the directory is open to others.
    if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) {
      return Internal("cannot create state directory " + Quote(dir_) + ": " + std::strerror(errno));
    }
  }
  fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec) return Internal("cannot chmod 700 " + Quote(dir_) + ": " + ec.message());

  // Forget what belonged to the previous registration first, and write registration.json last:
  // whatever point a crash interrupts, Load sees either a whole registration or a damaged one.
  for (const char* stale : {kAuthorizationFile, kReleasedFile}) {
    fs::remove(dir_ / stale, ec);
    if (ec) return Internal("cannot remove " + Quote(dir_ / stale) + ": " + ec.message());
  }
  std::string chain_pem;
  for (const auto& pem : registration_.ca_chain_pem()) chain_pem += pem;
  const std::pair<const char*, std::string> public_files[] = {
      {kCertificateFile, registration_.certificate_pem()},
      {kCaChainFile, chain_pem},
      {kServerCaFile, server_ca_pem_},
      {kServerUrlFile, server_url_ + "\n"},
  };
  OUTPOST_RETURN_IF_ERROR(
      crypto::WriteFileAtomically(dir_ / kKeyFile, key_.ToPem(), kSecretFile, IfExists::kReplace));
  for (const auto& [name, content] : public_files) {
    OUTPOST_RETURN_IF_ERROR(
        crypto::WriteFileAtomically(dir_ / name, content, kPublicFile, IfExists::kReplace));
  }
  OUTPOST_RETURN_IF_ERROR(crypto::WriteFileAtomically(
      dir_ / kRegistrationFile, ToJson(registration_, true), kPublicFile, IfExists::kReplace));
  released_ = false;
  return Status::Ok();
}

Result<crypto::Certificate> DeviceState::PinnedCaRoot() const {
  OUTPOST_ASSIGN_OR_RETURN(auto chain, ParseChain(registration_));
  return std::move(chain.back());
}

Status DeviceState::SaveAuthorization(const v1::SignedAuthorization& signed_authorization) const {
  const std::string bytes = signed_authorization.SerializeAsString();
  // Load would call a larger file damage: refuse it here, before the previous one is touched.
  if (bytes.size() > kMaxFileBytes) {
    return InvalidArgument("the authorization is " + std::to_string(bytes.size()) +
                           " bytes; a state file holds at most " + std::to_string(kMaxFileBytes) +
                           " (the previous authorization is kept)");
  }
  return crypto::WriteFileAtomically(dir_ / kAuthorizationFile, bytes, kPublicFile,
                                     IfExists::kReplace);
}

Result<std::optional<v1::SignedAuthorization>> DeviceState::LoadAuthorization() const {
  auto bytes = crypto::ReadSmallFile(dir_ / kAuthorizationFile, kMaxFileBytes);
  if (!bytes.ok()) {
    if (bytes.status().code() == Errc::kNotFound) return std::optional<v1::SignedAuthorization>();
    return AsDamage(dir_, bytes.status());
  }
  v1::SignedAuthorization signed_authorization;
  if (!signed_authorization.ParseFromString(*bytes)) {
    return Damaged(dir_, std::string(kAuthorizationFile) + " is not a SignedAuthorization");
  }
  return std::optional<v1::SignedAuthorization>(std::move(signed_authorization));
}

Status DeviceState::MarkReleased(const v1::ReleaseResponse& release) {
  OUTPOST_RETURN_IF_ERROR(crypto::WriteFileAtomically(dir_ / kReleasedFile, ToJson(release, true),
                                                      kPublicFile, IfExists::kReplace));
  released_ = true;
  return Status::Ok();
}

}  // namespace outpost::client
