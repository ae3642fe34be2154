#include "tests/unit/client/fake_satellite.h"

#include <google/protobuf/unknown_field_set.h>

#include "common/crypto/secure_file.h"
#include "common/net/codec.h"
#include "outpost/v1/common.pb.h"
#include "tests/testing/test_util.h"

namespace outpost::testing {
namespace {

std::string Text(int64_t unix_seconds) { return "t" + std::to_string(unix_seconds); }

}  // namespace

FakeSatellite::FakeSatellite(SatelliteKeys keys) : keys_(std::move(keys)) {}
FakeSatellite::~FakeSatellite() { Shutdown(); }

std::unique_ptr<FakeSatellite> FakeSatellite::StartOrDie(const std::filesystem::path& dir) {
  // TLS checks validity against the real time, so this fake uses the wall clock.
  const TimePoint now = std::chrono::system_clock::now();
  std::unique_ptr<FakeSatellite> satellite(new FakeSatellite(MakeSatelliteKeysOrDie(now)));
  auto server_key = OrDie(crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256));
  crypto::CertificateProfile profile;
  profile.usage = crypto::CertificateProfile::kServer;
  profile.common_name = "fake satellite";
  profile.ip_addresses = {"127.0.0.1"};
  profile.not_before = satellite->keys_.not_before;
  profile.not_after = satellite->keys_.not_after - std::chrono::hours(1);
  auto server_certificate = OrDie(satellite->keys_.ca.Issue(server_key.public_key(), profile));

  const std::string ca_pem = satellite->keys_.ca.certificate().ToPem();
  satellite->ca_file_ = dir / "ca.pem";
  EXPECT_OK(crypto::WriteFileAtomically(satellite->ca_file_, ca_pem, std::filesystem::perms(0644),
                                        crypto::IfExists::kReplace));
  net::ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.io_threads = 1;
  net::TlsOptions tls;
  tls.certificate_chain_pem = server_certificate.ToPem() + ca_pem;
  tls.private_key_pem = server_key.ToPem();
  tls.client_ca_pem = ca_pem;
  satellite->server_ =
      OrDie(net::HttpServer::Create(options, tls, satellite->MakeRouter(), nullptr));
  EXPECT_OK(satellite->server_->Start());
  return satellite;
}

std::string FakeSatellite::url() const {
  return "https://127.0.0.1:" + std::to_string(server_->port());
}

void FakeSatellite::Shutdown() {
  if (server_) server_->Shutdown(std::chrono::milliseconds(1000));
}

void FakeSatellite::set_misbehaviour(Misbehaviour m) {
  std::lock_guard lock(mu_);
  misbehaviour_ = m;
}

void FakeSatellite::set_error_padding(size_t bytes) {
  std::lock_guard lock(mu_);
  error_padding_ = bytes;
}

void FakeSatellite::ReleaseByOperator(const std::string& instance_id) {
  std::lock_guard lock(mu_);
  devices_.at(instance_id).registered = false;
}

std::string FakeSatellite::last_registration_proof() const {
  std::lock_guard lock(mu_);
  return last_registration_proof_;
}

int FakeSatellite::authorize_calls() const {
  std::lock_guard lock(mu_);
  return authorize_calls_;
}

net::Router FakeSatellite::MakeRouter() {
  net::Router router;
  auto bind = [this](void (FakeSatellite::*handler)(net::Request&, const net::Reply&)) {
    return [this, handler](net::Request& request, net::Reply reply) {
      (this->*handler)(request, reply);
    };
  };
  router.Add("POST", "/v1/devices/register", bind(&FakeSatellite::Register));
  router.Add("POST", "/v1/devices/authorize", bind(&FakeSatellite::Authorize));
  router.Add("GET", "/v1/devices/self", bind(&FakeSatellite::Self));
  router.Add("POST", "/v1/devices/release", bind(&FakeSatellite::Release));
  router.Add("POST", "/v1/devices/renew", bind(&FakeSatellite::Renew));
  return router;
}

void FakeSatellite::Register(net::Request& request, const net::Reply& reply) {
  v1::RegisterRequest in;
  if (Status s = net::DecodeBody(request, &in); !s.ok()) {
    return reply(net::ErrorResponse(request, s));
  }
  if (in.token() != "opt_good" && in.token() != "opt_other") {
    return reply(net::ErrorResponse(
        request, Unauthenticated("registration token is not valid (unknown, expired or "
                                 "revoked); ask the operator for a new one")));
  }
  auto csr = crypto::CertificateSigningRequest::FromPem(in.csr_pem());
  if (!csr.ok()) return reply(net::ErrorResponse(request, csr.status()));

  std::lock_guard lock(mu_);
  last_registration_proof_ =
      request.client_certificate ? request.client_certificate->subject_common_name() : "";
  const std::string udi = in.pid() + ":" + in.serial();
  std::string replaced;
  for (auto& [id, device] : devices_) {
    if (device.registered &&
        device.registration.pid() + ":" + device.registration.serial() == udi) {
      device.registered = false;
      replaced = id;
    }
  }
  const std::string instance_id = "inst-" + std::to_string(next_instance_++);
  auto subject_key = OrDie(csr->public_key());
  if (misbehaviour_ == Misbehaviour::kCertificateForAnotherKey) {
    subject_key =
        OrDie(crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256)).public_key();
  }
  v1::RegisterResponse out;
  if (misbehaviour_ == Misbehaviour::kOwnRoot) {
    // A CA of the attacker's own, shipped in the answer as the chain's root.
    const SatelliteKeys forged =
        MakeSatelliteKeysOrDie(keys_.not_before + std::chrono::hours(1), keys_.satellite_id);
    out = IssueRegistrationOrDie(forged, subject_key, instance_id, udi);
  } else if (misbehaviour_ == Misbehaviour::kPathInstanceId) {
    out = IssueRegistrationOrDie(keys_, subject_key, "../../../../tmp/x", udi);
  } else {
    out = IssueRegistrationOrDie(keys_, subject_key, instance_id, udi);
  }
  if (misbehaviour_ == Misbehaviour::kHugeVa) out.set_va(std::string(2 << 20, 'v'));
  if (misbehaviour_ == Misbehaviour::kHugeChain) {
    for (int i = 0; i < 3000; ++i) out.add_ca_chain_pem(keys_.ca.certificate().ToPem());
  }
  out.set_replaced_instance_id(replaced);
  out.set_certificate_not_after_text(Text(out.certificate_not_after()));
  out.set_renew_after(renew_after_);
  devices_[instance_id].registration = in;
  reply(net::Encode(request, out));
}

void FakeSatellite::set_renew_after(int64_t unix_seconds) {
  std::lock_guard lock(mu_);
  renew_after_ = unix_seconds;
}

void FakeSatellite::set_refuse_renewal(bool refuse) {
  std::lock_guard lock(mu_);
  refuse_renewal_ = refuse;
}

int FakeSatellite::renew_calls() const {
  std::lock_guard lock(mu_);
  return renew_calls_;
}

void FakeSatellite::Renew(net::Request& request, const net::Reply& reply) {
  v1::RenewRequest in;
  if (Status s = net::DecodeBody(request, &in); !s.ok()) {
    return reply(net::ErrorResponse(request, s));
  }
  std::lock_guard lock(mu_);
  Device* device = Authenticate(request, reply);
  if (device == nullptr) return;
  ++renew_calls_;
  if (refuse_renewal_) {
    return reply(net::ErrorResponse(request, FailedPrecondition("renewal opens later")));
  }
  auto csr = crypto::CertificateSigningRequest::FromPem(in.csr_pem());
  if (!csr.ok()) return reply(net::ErrorResponse(request, csr.status()));
  const std::string instance_id = misbehaviour_ == Misbehaviour::kRenewOtherInstance
                                      ? "inst-999"
                                      : request.client_certificate->subject_common_name();
  v1::RegisterResponse out =
      IssueRegistrationOrDie(keys_, OrDie(csr->public_key()), instance_id,
                             device->registration.pid() + ":" + device->registration.serial());
  out.set_certificate_not_after_text(Text(out.certificate_not_after()));
  out.set_renew_after(renew_after_);
  reply(net::Encode(request, out));
}

FakeSatellite::Device* FakeSatellite::Authenticate(const net::Request& request,
                                                   const net::Reply& reply) {
  if (!request.client_certificate) {
    reply(net::ErrorResponse(request, Unauthenticated("an ID certificate is required")));
    return nullptr;
  }
  if (misbehaviour_ == Misbehaviour::kHostileError) {
    // Built by hand, not through net::ErrorResponse, so that nothing on this side shortens it.
    v1::ErrorResponse error;
    error.mutable_error()->set_reason(std::string(ReasonFor(Errc::kPermissionDenied)));
    error.mutable_error()->set_message("\x1b[2J\x1b[31mYOUR LICENSES ARE REVOKED\x1b]0;owned\x07" +
                                       std::string(error_padding_, 'A'));
    reply(net::Encode(request, error, 403));
    return nullptr;
  }
  auto it = devices_.find(request.client_certificate->subject_common_name());
  if (it == devices_.end() || !it->second.registered) {
    reply(net::ErrorResponse(request,
                             Unauthenticated("this ID certificate's device is not registered")));
    return nullptr;
  }
  return &it->second;
}

void FakeSatellite::Authorize(net::Request& request, const net::Reply& reply) {
  v1::AuthorizeRequest in;
  if (Status s = net::DecodeBody(request, &in); !s.ok()) {
    return reply(net::ErrorResponse(request, s));
  }
  std::lock_guard lock(mu_);
  ++authorize_calls_;
  Device* device = Authenticate(request, reply);
  if (device == nullptr) return;
  int64_t now = ToUnixSeconds(std::chrono::system_clock::now());
  if (misbehaviour_ == Misbehaviour::kIssuedEarlier) now -= 3600;
  if (misbehaviour_ == Misbehaviour::kExpired) now = 1'490'000'000;        // March 2017
  if (misbehaviour_ == Misbehaviour::kFromTheFuture) now = 4'000'000'000;  // 2096
  v1::Authorization a;
  a.set_satellite_id(keys_.satellite_id);
  a.set_instance_id(request.client_certificate->subject_common_name());
  a.set_va("default");
  a.set_udi(device->registration.pid() + ":" + device->registration.serial());
  a.set_issued_at(now);
  a.set_issued_at_text(Text(now));
  a.set_valid_until(now + 3600);
  a.set_valid_until_text(Text(now + 3600));
  device->holdings.clear();
  for (const auto& use : in.tags()) {
    auto* tag = a.add_tags();
    tag->set_tag(use.tag());
    tag->set_requested(use.count());
    if (use.tag().starts_with("regid.known")) {
      tag->set_status("AUTHORIZED");
      tag->set_granted(use.count());
      tag->set_valid_until(now + 3600);
      device->holdings.push_back(use);
    } else {
      tag->set_status("NOT_ENTITLED");
      tag->set_reason("no such tag in virtual account default");
    }
  }
  if (misbehaviour_ == Misbehaviour::kOtherInstance) a.set_instance_id("inst-someone-else");
  if (misbehaviour_ == Misbehaviour::kGrantsTooMuch) {
    for (auto& tag : *a.mutable_tags()) tag.set_granted(1'000'000'000);
  }
  if (misbehaviour_ == Misbehaviour::kDropLastTag && a.tags_size() > 0)
    a.mutable_tags()->RemoveLast();
  v1::SignedAuthorization out = SignOrDie(keys_.signing_key, a);
  if (!device->first_answer) device->first_answer = out;
  if (misbehaviour_ == Misbehaviour::kReplayFirstAnswer) out = *device->first_answer;
  if (misbehaviour_ == Misbehaviour::kPaddedCopy && out.authorization().tags_size() > 0) {
    out.mutable_authorization()->mutable_tags(0)->set_reason(std::string(2 << 20, 'r'));
  }
  if (misbehaviour_ == Misbehaviour::kUnknownField) {
    out.GetReflection()->MutableUnknownFields(&out)->AddLengthDelimited(99,
                                                                        std::string(3 << 20, 'u'));
  }
  if (misbehaviour_ == Misbehaviour::kFlippedSignature) {
    std::string signature = out.signature();
    signature[3] ^= 0x10;
    out.set_signature(signature);
  }
  reply(net::Encode(request, out));
}

void FakeSatellite::Self(net::Request& request, const net::Reply& reply) {
  std::lock_guard lock(mu_);
  Device* device = Authenticate(request, reply);
  if (device == nullptr) return;
  v1::Device out;
  out.set_instance_id(request.client_certificate->subject_common_name());
  out.set_va("default");
  out.set_pid(device->registration.pid());
  out.set_serial(device->registration.serial());
  out.set_udi(out.pid() + ":" + out.serial());
  out.set_hostname(device->registration.hostname());
  for (const auto& use : device->holdings) {
    auto* holding = out.add_holdings();
    holding->set_tag(use.tag());
    holding->set_count(use.count());
  }
  reply(net::Encode(request, out));
}

void FakeSatellite::Release(net::Request& request, const net::Reply& reply) {
  std::lock_guard lock(mu_);
  Device* device = Authenticate(request, reply);
  if (device == nullptr) return;
  v1::ReleaseResponse out;
  out.set_instance_id(request.client_certificate->subject_common_name());
  for (const auto& use : device->holdings) *out.add_released() = use;
  device->holdings.clear();
  device->registered = false;
  reply(net::Encode(request, out));
}

}  // namespace outpost::testing
