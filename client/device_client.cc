#include "client/device_client.h"

#include <set>

#include "client/authorization.h"
#include "common/crypto/secure_file.h"
#include "common/crypto/x509.h"
#include "common/names.h"
#include "common/net/https_client.h"
#include "outpost/v1/common.pb.h"

namespace outpost::client {
namespace {

constexpr size_t kMaxCaFileBytes = 1 << 20;

DeviceClientOptions WithDefaults(DeviceClientOptions options) {
  if (!options.clock) options.clock = std::make_shared<SystemClock>();
  return options;
}

// How the HTTPS client reaches the satellite at `server_url`, trusting `ca_pem`.
net::ClientOptions HttpOptions(const std::string& server_url, const std::string& ca_pem,
                               const DeviceClientOptions& options) {
  net::ClientOptions http;
  http.base_url = server_url;
  http.ca_pem = ca_pem;
  http.timeout = options.timeout;
  http.max_response_bytes = kMaxAnswerBytes;
  return http;
}

Status RequireSet(const std::string& value, const char* what) {
  if (value.empty()) return InvalidArgument(std::string(what) + " is required to register");
  return Status::Ok();
}

// The satellite's error message, cut to kMaxSatelliteMessageBytes: it is text from the other
// side, and the caller prints or logs it. Escaping is the printer's job (the CLI's Printable);
// the cut is here, so that no caller can be flooded.
Status BoundSatelliteMessage(const Status& s) {
  const std::string& m = s.message();
  if (m.size() <= kMaxSatelliteMessageBytes) return s;
  size_t cut = kMaxSatelliteMessageBytes;
  // Not inside a UTF-8 sequence: back off continuation bytes (10xxxxxx) and their lead byte.
  while (cut > 0 && (static_cast<unsigned char>(m[cut]) & 0xC0) == 0x80) --cut;
  return Status(s.code(), m.substr(0, cut) + "... (" + std::to_string(m.size() - cut) +
                              " more bytes of the satellite's message not shown)");
}

Result<std::string> ReadServerCa(const RegisterOptions& options) {
  std::string pem = options.ca_pem;
  if (pem.empty()) {
    if (options.ca_file.empty()) {
      return InvalidArgument(
          "the CA to trust is required to register: the satellite's ca.pem (--ca FILE)");
    }
    OUTPOST_ASSIGN_OR_RETURN(pem, crypto::ReadSmallFile(options.ca_file, kMaxCaFileBytes));
  }
  if (auto roots = crypto::Certificate::ParsePemChain(pem); !roots.ok()) {
    const std::string source =
        options.ca_pem.empty() ? "CA file '" + options.ca_file.string() + "'" : "the CA PEM";
    return InvalidArgument(source + " holds no usable certificate: " + roots.status().message());
  }
  return pem;
}

}  // namespace

DeviceClient::DeviceClient(DeviceState state, DeviceClientOptions options)
    : state_(std::move(state)), options_(std::move(options)) {}
DeviceClient::DeviceClient(DeviceClient&&) noexcept = default;
DeviceClient& DeviceClient::operator=(DeviceClient&&) noexcept = default;
DeviceClient::~DeviceClient() = default;

// What `dir` holds that a registration there must respect (RegisterOptions): nothing live
// (nullopt), the live registration of the same device at the same satellite (returned: it proves
// the device's current key, so the satellite lets the new registration replace it), or another
// live device (refused unless `replace_registered`, since its instance would be stranded). A
// device the satellite no longer knows (released or rehosted by an operator) is not live.
Result<std::optional<DeviceState>> DeviceClient::CurrentRegistration(
    const RegisterOptions& options, const DeviceClientOptions& client_options) {
  const std::filesystem::path& dir = options.state_dir;
  std::error_code ec;
  if (!std::filesystem::exists(dir / kRegistrationFile, ec)) return std::optional<DeviceState>();
  auto existing = DeviceState::Load(dir);
  if (!existing.ok()) {
    if (options.replace_registered) return std::optional<DeviceState>();
    return AlreadyExists("state directory " + dir.string() +
                         " holds a device state that cannot be read (" +
                         existing.status().message() +
                         "); choose another --state-dir, or pass --force to replace it");
  }
  if (existing->released()) return std::optional<DeviceState>();
  const v1::RegisterResponse r = existing->registration();
  const std::string server_url = existing->server_url();
  const bool same_device =
      r.udi() == options.pid + ":" + options.serial && server_url == options.server_url;
  DeviceClient current(std::move(*existing), client_options);
  // Only asks; renewing here would be pointless, the registration replaces the certificate.
  current.last_failed_renewal_ = client_options.clock->Now();
  auto self = current.GetStatus();
  // The same device sends its certificate as proof even when the satellite no longer takes it
  // for calls (a renewal answer that was lost superseded it); another device is not live then.
  if (same_device) return std::optional<DeviceState>(std::move(current.state_));
  if (!self.ok() && self.status().code() == Errc::kUnauthenticated) {
    return std::optional<DeviceState>();
  }
  if (options.replace_registered) return std::optional<DeviceState>();
  return AlreadyExists(
      "state directory " + dir.string() + " holds device " + QuoteForMessage(r.udi()) +
      ", registered as instance " + QuoteForMessage(r.instance_id()) + " in virtual account " +
      QuoteForMessage(r.va()) + " at " + server_url +
      (self.ok() ? "" : " (which did not answer: " + self.status().message() + ")") +
      ". Release it first (`outpost device release --state-dir " + dir.string() +
      "`), or use another --state-dir. --force registers here anyway and abandons that instance: "
      "its key is replaced, so it keeps its licenses on the satellite until an operator releases "
      "it (`outpost devices release " +
      QuoteForMessage(r.instance_id()) + "`) or it expires");
}

Result<DeviceClient> DeviceClient::Register(const RegisterOptions& options,
                                            DeviceClientOptions client_options) {
  client_options = WithDefaults(std::move(client_options));
  OUTPOST_RETURN_IF_ERROR(RequireSet(options.server_url, "the satellite URL (--server)"));
  OUTPOST_RETURN_IF_ERROR(RequireSet(options.token, "a registration token (--token)"));
  OUTPOST_RETURN_IF_ERROR(RequireSet(options.pid, "the product id (--pid)"));
  OUTPOST_RETURN_IF_ERROR(RequireSet(options.serial, "the serial number (--serial)"));
  // Before the satellite is asked, so a directory that cannot be used does not use up a token.
  OUTPOST_RETURN_IF_ERROR(CheckStateDir(options.state_dir));
  OUTPOST_ASSIGN_OR_RETURN(std::optional<DeviceState> current,
                           CurrentRegistration(options, client_options));
  OUTPOST_ASSIGN_OR_RETURN(std::string server_ca_pem, ReadServerCa(options));

  // A fresh key for every registration: re-registering (e.g. after a suspected compromise, or
  // with a new token) never reuses the old identity.
  OUTPOST_ASSIGN_OR_RETURN(auto key,
                           crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256));
  // The satellite takes only the key from the CSR; the name is a label for humans reading it.
  OUTPOST_ASSIGN_OR_RETURN(auto csr,
                           crypto::CertificateSigningRequest::Create(key, "outpost device"));
  v1::RegisterRequest request;
  request.set_token(options.token);
  request.set_pid(options.pid);
  request.set_serial(options.serial);
  request.set_hostname(options.hostname);
  request.set_csr_pem(csr.ToPem());

  net::ClientOptions http_options = HttpOptions(options.server_url, server_ca_pem, client_options);
  // Besides the CA given, the CA of the registration being replaced may vouch for the new one.
  std::vector<crypto::Certificate> pinned_roots;
  if (current) {
    if (auto root = current->PinnedCaRoot(); root.ok()) pinned_roots.push_back(std::move(*root));
    // Registering again: the ID certificate proves that this is the registered device. An
    // expired one would fail the TLS handshake; the satellite lets a token take over a
    // registration whose certificate expired.
    if (current->certificate().not_after() > client_options.clock->Now()) {
      http_options.client_certificate_pem = current->certificate().ToPem();
      http_options.client_key_pem = current->key().ToPem();
    }
  }
  OUTPOST_ASSIGN_OR_RETURN(auto http, net::HttpsClient::Create(std::move(http_options)));
  v1::RegisterResponse registration;
  if (Status s = http->Call("POST", "/v1/devices/register", request, &registration); !s.ok()) {
    return BoundSatelliteMessage(s).WithContext("registering with " + options.server_url);
  }
  http.reset();

  const std::string udi = request.pid() + ":" + request.serial();
  if (registration.udi() != udi) {
    return Unauthenticated(
        "the satellite's registration answer does not check out (nothing was saved): it is for "
        "UDI " +
        QuoteForMessage(registration.udi()) + ", but this device is " + QuoteForMessage(udi));
  }
  // Everything is checked before anything is replaced: a refused answer leaves the directory,
  // and any registration in it, as it was.
  OUTPOST_ASSIGN_OR_RETURN(
      auto state,
      DeviceState::FromRegistration(options.state_dir, options.server_url, std::move(server_ca_pem),
                                    std::move(key), std::move(registration),
                                    client_options.clock->Now(), pinned_roots));
  if (Status s = state.Save(); !s.ok()) {
    return s.WithContext("registered as instance " + state.registration().instance_id() +
                         " but could not save the device state; register again");
  }
  return DeviceClient(std::move(state), std::move(client_options));
}

Result<DeviceClient> DeviceClient::Open(const std::filesystem::path& state_dir,
                                        DeviceClientOptions client_options) {
  OUTPOST_ASSIGN_OR_RETURN(auto state, DeviceState::Load(state_dir));
  return DeviceClient(std::move(state), WithDefaults(std::move(client_options)));
}

Status DeviceClient::CheckUsable() const {
  if (!state_.released()) return Status::Ok();
  return FailedPrecondition("this device (instance " + state_.registration().instance_id() +
                            ") was released and is no longer registered; register again with "
                            "`outpost device register --state-dir " +
                            state_.dir().string() + " ...`");
}

Result<net::HttpsClient*> DeviceClient::Connection() {
  if (!http_) {
    net::ClientOptions o = HttpOptions(state_.server_url(), state_.server_ca_pem(), options_);
    o.client_certificate_pem = state_.certificate().ToPem();
    o.client_key_pem = state_.key().ToPem();
    OUTPOST_ASSIGN_OR_RETURN(http_, net::HttpsClient::Create(std::move(o)));
  }
  return http_.get();
}

Status DeviceClient::Call(const char* method, const char* target,
                          const google::protobuf::Message& request,
                          google::protobuf::Message* response) {
  OUTPOST_ASSIGN_OR_RETURN(net::HttpsClient * http, Connection());
  const Status s = BoundSatelliteMessage(http->Call(method, target, request, response));
  const bool refused = s.code() == Errc::kUnauthenticated || s.code() == Errc::kPermissionDenied;
  const std::string& m = s.message();
  const bool says_what_to_do = m.find("register again") != std::string::npos ||
                               m.find("register the device again") != std::string::npos ||
                               m.find("outpost device register") != std::string::npos;
  if (refused && !says_what_to_do) {
    // The usual cause on a device: an operator released or replaced it on the satellite. The
    // satellite may already say so; otherwise say it here.
    return Status(s.code(), s.message() + " (instance " + state_.registration().instance_id() +
                                "; if it was released or replaced on the satellite, register "
                                "again with `outpost device register`)");
  }
  return s;
}

Result<v1::RegisterResponse> DeviceClient::RenewCertificate() {
  OUTPOST_RETURN_IF_ERROR(CheckUsable());
  const TimePoint now = options_.clock->Now();
  const std::string& instance_id = state_.registration().instance_id();
  if (state_.certificate().not_after() <= now) {
    return FailedPrecondition(
        "the ID certificate of instance " + instance_id + " expired at " +
        state_.registration().certificate_not_after_text() +
        "; an expired certificate cannot be renewed. Register again with a token: `outpost "
        "device register --state-dir " +
        state_.dir().string() + " --token ...` (the registration and its licenses carry over)");
  }
  OUTPOST_ASSIGN_OR_RETURN(auto key,
                           crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256));
  OUTPOST_ASSIGN_OR_RETURN(auto csr, crypto::CertificateSigningRequest::Create(key, instance_id));
  // Stored before the satellite is asked: if the answer is committed there and this process dies
  // before it is saved, the key is not lost with it.
  if (Status s = state_.SaveRenewalKey(key); !s.ok()) {
    return s.WithContext("cannot store the new key in " + state_.dir().string());
  }
  v1::RenewRequest request;
  request.set_csr_pem(csr.ToPem());
  v1::RegisterResponse renewed;
  if (Status s = Call("POST", "/v1/devices/renew", request, &renewed); !s.ok()) {
    return s.WithContext("renewing the ID certificate with " + state_.server_url());
  }
  OUTPOST_RETURN_IF_ERROR(state_.ApplyRenewal(std::move(renewed), std::move(key), now));
  http_.reset();  // the next call presents the new certificate
  return state_.registration();
}

void DeviceClient::RenewIfDue() {
  if (state_.released()) return;
  const TimePoint now = options_.clock->Now();
  const int64_t renew_after = state_.registration().renew_after();
  if (renew_after == 0 || now < FromUnixSeconds(renew_after)) return;
  if (last_failed_renewal_ && now < *last_failed_renewal_ + kAutomaticRenewalRetry) return;
  auto renewed = RenewCertificate();
  last_renewal_status_ = renewed.status();
  if (renewed.ok()) {
    last_failed_renewal_.reset();
  } else {
    last_failed_renewal_ = now;
  }
}

Result<v1::Authorization> DeviceClient::Authorize(const std::vector<v1::TagUse>& tags) {
  OUTPOST_RETURN_IF_ERROR(CheckUsable());
  v1::AuthorizeRequest request;
  std::set<std::string> seen;
  for (const auto& use : tags) {
    if (use.tag().empty()) return InvalidArgument("a license tag is empty");
    if (use.count() < 1) {
      return InvalidArgument("count of license tag '" + use.tag() + "' is " +
                             std::to_string(use.count()) +
                             "; it must be at least 1 (leave the tag out to give it back)");
    }
    if (!seen.insert(use.tag()).second) {
      return InvalidArgument("license tag '" + use.tag() + "' appears twice; state it once");
    }
    *request.add_tags() = use;
  }
  RenewIfDue();
  v1::SignedAuthorization answer;
  if (Status s = Call("POST", "/v1/devices/authorize", request, &answer); !s.ok()) {
    return s.WithContext("authorizing with " + state_.server_url());
  }
  const ExpectedSigner signer{&state_.signing_key(), state_.registration().signing_key_id(),
                              state_.registration().satellite_id(),
                              state_.registration().instance_id()};
  OUTPOST_ASSIGN_OR_RETURN(v1::Authorization authorization, VerifyAuthorization(answer, signer));
  OUTPOST_RETURN_IF_ERROR(CheckAnswersRequest(authorization, tags));
  // The stored answer, when it still verifies, is the floor: an older one must not replace it.
  // One that does not verify (damaged, or from a registration's other key) sets no floor, so a
  // good answer can repair it.
  std::optional<v1::Authorization> previous;
  if (auto stored = LastAuthorization(); stored.ok() && stored->has_value()) {
    previous = std::move(**stored);
  }
  OUTPOST_RETURN_IF_ERROR(
      CheckCurrent(authorization, previous, options_.clock->Now(), options_.max_clock_skew));
  // Only the signed parts are stored: the unsigned readable copy and unknown fields, which
  // anyone holding the TLS key could pad, never reach the disk.
  OUTPOST_RETURN_IF_ERROR(state_.SaveAuthorization(CanonicalSignedForm(answer)));
  return authorization;
}

Result<std::optional<v1::Authorization>> DeviceClient::LastAuthorization() const {
  OUTPOST_RETURN_IF_ERROR(CheckUsable());
  OUTPOST_ASSIGN_OR_RETURN(auto stored, state_.LoadAuthorization());
  if (!stored) return std::optional<v1::Authorization>();
  const ExpectedSigner signer{&state_.signing_key(), state_.registration().signing_key_id(),
                              state_.registration().satellite_id(),
                              state_.registration().instance_id()};
  auto verified = VerifyAuthorization(*stored, signer);
  if (!verified.ok()) {
    return verified.status().WithContext("the authorization stored in " +
                                         (state_.dir() / kAuthorizationFile).string() +
                                         " does not verify");
  }
  return std::optional<v1::Authorization>(std::move(*verified));
}

Result<DeviceStatus> DeviceClient::GetStatus() {
  OUTPOST_RETURN_IF_ERROR(CheckUsable());
  RenewIfDue();
  DeviceStatus status;
  if (Status s = Call("GET", "/v1/devices/self", v1::Empty(), &status.device); !s.ok()) {
    return s.WithContext("asking " + state_.server_url() + " for this device");
  }
  OUTPOST_ASSIGN_OR_RETURN(status.last_authorization, LastAuthorization());
  return status;
}

Result<v1::ReleaseResponse> DeviceClient::Release() {
  OUTPOST_RETURN_IF_ERROR(CheckUsable());
  v1::ReleaseResponse released;
  if (Status s = Call("POST", "/v1/devices/release", v1::Empty(), &released); !s.ok()) {
    return s.WithContext("releasing with " + state_.server_url());
  }
  http_.reset();  // the certificate is refused from now on
  OUTPOST_RETURN_IF_ERROR(state_.MarkReleased(released));
  return released;
}

}  // namespace outpost::client
