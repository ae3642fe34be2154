// DeviceService (device_service.h) and what only device calls do: registration, identification,
// authorization with batch signing, and a device's release of itself.

#include "server/licensing/device_service.h"

#include <algorithm>
#include <boost/json.hpp>

#include "common/authorization_format.h"
#include "common/crypto/hash.h"
#include "common/crypto/merkle.h"
#include "common/ids.h"
#include "common/text.h"
#include "common/time.h"
#include "server/audit/utf8.h"
#include "server/licensing/service_internal.h"
#include "server/licensing/unit_internal.h"

namespace outpost::server::licensing {
namespace {

namespace json = boost::json;
using internal::Audit;
using internal::TagsJson;
using internal::Truncate;

constexpr size_t kMaxHostnameBytes = 253;

Status ValidateHostname(std::string_view hostname) {
  if (hostname.size() > kMaxHostnameBytes) {
    return InvalidArgument("hostname is longer than 253 bytes");
  }
  if (!audit::IsValidUtf8(hostname)) {
    return InvalidArgument("hostname is not valid UTF-8; send it as UTF-8 text");
  }
  // Code points, the UTF-8 being valid: control characters (C0, DEL, C1) and the invisible
  // direction and format marks that make a name display as another (U+200B-U+200F, U+202A-U+202E,
  // U+2060-U+2069, U+FEFF) are refused, so that consoles and terminals show what was stored.
  for (size_t i = 0; i < hostname.size();) {
    const unsigned char lead = static_cast<unsigned char>(hostname[i]);
    const size_t length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
    uint32_t cp = length == 1 ? lead : lead & (0xFF >> (length + 1));
    for (size_t k = 1; k < length; ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(hostname[i + k]) & 0x3F);
    }
    i += length;
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
      return InvalidArgument("hostname " + Quote(hostname) + " contains a control character");
    }
    if ((cp >= 0x200B && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) ||
        (cp >= 0x2060 && cp <= 0x2069) || cp == 0xFEFF) {
      return InvalidArgument("hostname " + Quote(hostname) +
                             " contains an invisible direction or format mark (e.g. U+202E); "
                             "send the name as it should be shown");
    }
  }
  return Status::Ok();
}

audit::Actor DeviceActor(const std::string& instance_id) { return {"device", instance_id}; }

// A renewal that changes nothing: every tag granted in full as asked, and the book's counts as
// they were (only their validity moved). Such a renewal is audited as a compact device.renew.
bool OnlyExtendsValidity(const AuthorizationDecision& decision) {
  if (decision.tags.empty()) return false;
  for (const TagDecision& t : decision.tags) {
    if (t.status != TagStatus::kAuthorized || t.granted != t.requested) return false;
  }
  for (const TagChange& c : decision.delta.changes) {
    if (c.old_count != c.new_count) return false;
  }
  return true;
}

// The "tags" array of a full device.authorize record: per tag, what was asked and granted.
json::array PerTagJson(const std::vector<TagDecision>& tags) {
  json::array per_tag;
  for (const TagDecision& t : tags) {
    per_tag.push_back(json::object{{"tag", t.tag},
                                   {"requested", t.requested},
                                   {"granted", t.granted},
                                   {"status", TagStatusName(t.status)}});
  }
  return per_tag;
}

// PerTagJson serialized, byte for byte as boost::json serializes it, written directly when no
// tag needs escaping in JSON (tags are validated names, so always in practice): a renewal then
// builds no JSON values, only this string.
std::string PerTagText(const std::vector<TagDecision>& tags) {
  std::string out = "[";
  out.reserve(2 + 80 * tags.size());
  for (const TagDecision& t : tags) {
    for (const char c : t.tag) {
      if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
        return json::serialize(PerTagJson(tags));
      }
    }
    if (out.size() > 1) out += ',';
    out += "{\"tag\":\"";
    out += t.tag;
    out += "\",\"requested\":";
    out += std::to_string(t.requested);
    out += ",\"granted\":";
    out += std::to_string(t.granted);
    out += ",\"status\":\"";
    out += TagStatusName(t.status);
    out += "\"}";
  }
  out += ']';
  return out;
}

// The first 16 hex digits of SHA-256 of the "tags" array a full device.authorize record would
// hold (serialized as boost::json does): equal digests, equal grants.
std::string TagsDigest(const std::vector<TagDecision>& tags) {
  return crypto::Sha256Hex(PerTagText(tags)).substr(0, 16);
}

RegisteredDevice Registered(const DeviceRecord& d) {
  return {d.instance_id, d.va, d.udi, d.export_allowed, d.cert_serial, d.cert_not_after};
}

}  // namespace

void DeviceService::Register(const v1::RegisterRequest& request, const std::string& remote_address,
                             std::optional<std::string> proven_instance,
                             Callback<v1::RegisterResponse> done) {
  impl_.Register(request, remote_address, std::move(proven_instance), std::move(done));
}

Result<DeviceIdentity> DeviceService::Identify(
    const std::optional<crypto::Certificate>& certificate) const {
  return impl_.Identify(certificate);
}

std::optional<std::string> DeviceService::CertifiedInstance(
    const std::optional<crypto::Certificate>& certificate) const {
  return impl_.CertifiedInstance(certificate);
}

void DeviceService::Renew(const DeviceIdentity& device, const crypto::Certificate& current,
                          const v1::RenewRequest& request, Callback<v1::RegisterResponse> done) {
  impl_.Renew(device, current, request, std::move(done));
}

void DeviceService::Authorize(const DeviceIdentity& device, const v1::AuthorizeRequest& request,
                              Callback<v1::SignedAuthorization> done) {
  impl_.Authorize(device, request, std::move(done));
}

void DeviceService::ReleaseSelf(const DeviceIdentity& device, Callback<v1::ReleaseResponse> done) {
  impl_.ReleaseSelf(device, std::move(done));
}

Result<v1::Device> DeviceService::Self(const DeviceIdentity& device) const {
  return impl_.Self(device);
}

// The answers one writer batch committed: signed together once the batch's Dones have run.
class LicensingImpl::AnswerSigner final : public sqlite::BatchFinisher {
 public:
  explicit AnswerSigner(const LicensingImpl* service) : service_(service) {}
  void Add(UnsignedAnswer answer) { answers_.push_back(std::move(answer)); }
  // Nothing of the service may be touched after SignAnswers: its last step answers the callers,
  // and a caller may then stop and destroy the service while this batch is still finishing (a
  // buffer handed back to the service here was a use after free: 0a69fc1, reverted).
  void Finish() override { service_->SignAnswers(answers_); }

 private:
  const LicensingImpl* service_;
  std::vector<UnsignedAnswer> answers_;
};

// --- Registration -----------------------------------------------------------------------------

Status LicensingImpl::CheckRateLimit(const std::string& remote_address) {
  const std::optional<int> wait = registrations_.Take(remote_address);
  if (!wait) return Status::Ok();
  return ResourceExhausted("too many registrations from " + remote_address + " (limit " +
                           std::to_string(registrations_.per_minute()) + " per minute); retry in " +
                           DurationText(*wait));
}

void LicensingImpl::Register(const v1::RegisterRequest& request, const std::string& remote_address,
                             std::optional<std::string> proven_instance,
                             Callback<v1::RegisterResponse> done) {
  if (Status s = CheckRateLimit(remote_address); !s.ok()) return done(s);
  const Udi udi{request.pid(), request.serial()};
  if (Status s = ValidateUdi(udi); !s.ok()) return done(s);
  if (Status s = ValidateHostname(request.hostname()); !s.ok()) return done(s);
  if (request.token().empty()) {
    return done(Unauthenticated(
        "registration needs a token; an operator creates one with `outpost token create --va VA`"));
  }
  const bool has_csr = !request.csr_pem().empty();
  if (has_csr == !request.public_key_pem().empty()) {
    return done(InvalidArgument(
        "send exactly one of csr_pem (a PKCS#10 request) and public_key_pem (the device's key)"));
  }
  const TimePoint issued = Now();
  const std::string instance_id = NewUuid();
  crypto::CertificateProfile profile;
  profile.usage = crypto::CertificateProfile::kClient;
  profile.common_name = instance_id;
  profile.not_before = issued;
  profile.not_after =
      std::min(issued + options_.certificate_validity, Truncate(ca_.certificate().not_after()));
  Result<crypto::Certificate> certificate = InvalidArgument("no key");
  if (has_csr) {
    auto csr = crypto::CertificateSigningRequest::FromPem(request.csr_pem());
    if (!csr.ok()) {
      return done(InvalidArgument("csr_pem is not a PEM certificate signing request: " +
                                  csr.status().message()));
    }
    certificate = ca_.IssueFromCsr(*csr, profile);
    if (!certificate.ok() && certificate.status().code() != Errc::kFailedPrecondition) {
      return done(InvalidArgument("the CSR was refused (" + certificate.status().message() +
                                  "); create it with the device's own key"));
    }
  } else {
    auto key = crypto::PublicKey::FromPem(request.public_key_pem());
    if (!key.ok()) {
      return done(InvalidArgument("public_key_pem is not a PEM Ed25519 or P-256 public key: " +
                                  key.status().message()));
    }
    certificate = ca_.Issue(*key, profile);
  }
  if (!certificate.ok()) return done(certificate.status());

  if (pending_registrations_.fetch_add(1) >= options_.max_pending_registrations) {
    pending_registrations_.fetch_sub(1);
    return done(
        Unavailable("the satellite is busy with other registrations; retry in a few seconds"));
  }
  // Read here, on the caller's thread: the writer thread only writes.
  const std::string cert_pem = certificate->ToPem();
  const std::string cert_serial = certificate->serial_hex();
  const auto cert_not_after = certificate->not_after();
  const auto cert_not_before = certificate->not_before();
  const std::string cert_fingerprint = certificate->Fingerprint();
  Submit(
      [this, request, udi, instance_id, cert_serial, cert_not_after, cert_not_before,
       cert_fingerprint, cert_pem,
       proven_instance](sqlite::Connection& db, UnitState& unit) -> Result<v1::RegisterResponse> {
        const TimePoint now = Now();
        OUTPOST_ASSIGN_OR_RETURN(TokenGrant grant, tokens_.ConsumeOn(db, request.token(), now));
        // Refusals below name nothing of the other device: whoever asks may not be its owner.
        if (auto vs = registry_->FindByVaSerial(grant.va, udi.serial)) {
          const std::optional<RegisteredDevice> other = registry_->Find(*vs);
          if (other && other->udi.pid != udi.pid) {
            return AlreadyExists("serial " + Quote(udi.serial) +
                                 " is already registered in virtual account " + Quote(grant.va) +
                                 " under another product id; check the product id and serial, "
                                 "or ask an operator to release that device first");
          }
        }
        std::optional<RegisteredDevice> old;
        if (auto holder = registry_->FindByUdi(udi)) old = registry_->Find(*holder);
        if (old) {
          // A registered UDI is taken over only by the device itself (the request came with its
          // current ID certificate) or after an operator rehosted the instance to this UDI
          // (which clears its certificate). Anyone else who read a label could evict it.
          const bool proven = proven_instance && *proven_instance == old->instance_id;
          const bool rehosted = old->cert_serial.empty();
          // A device whose ID certificate expired can prove nothing any more (the TLS handshake
          // refuses the certificate): its registration is taken over with a token of its VA.
          const bool expired = old->cert_not_after <= now;
          if (!proven && !rehosted && !expired) {
            return AlreadyExists(
                "device " + Quote(udi.ToString()) +
                " is already registered with this satellite. Register again from the device "
                "itself (`outpost device register` into its own state directory, which proves "
                "its current key), or ask an operator to release it (`outpost devices release`) "
                "or rehost it first");
          }
          if (old->va != grant.va) {
            return FailedPrecondition(
                "this device is registered in virtual account " + Quote(old->va) +
                ", and a token of " + Quote(grant.va) + " cannot move it there: use a token of " +
                Quote(old->va) +
                ", or ask an operator to release the device first and then register it with "
                "this token");
          }
        }

        DeviceRecord record;
        record.instance_id = instance_id;
        record.va = grant.va;
        record.udi = udi;
        record.hostname = request.hostname();
        record.token_id = grant.token_id;
        record.export_allowed = grant.export_controlled;
        record.cert_serial = cert_serial;
        record.cert_not_after = cert_not_after;
        record.cert_not_before = cert_not_before;
        record.cert_fingerprint = cert_fingerprint;
        record.registered_at = now;

        // The old instance's rows go first: the UDI is unique in a VA and consumption rows
        // reference their device.
        std::optional<RehostDelta> moved;
        json::array carried;
        if (old) {
          unit.mutated = true;
          // Same VA (checked above): its licenses carry over to the new instance.
          OUTPOST_ASSIGN_OR_RETURN(moved, book_.Rehost(old->instance_id, instance_id, udi));
          OUTPOST_RETURN_IF_ERROR(PersistDelta(db, moved->removed));
          carried = TagsJson(moved->added, false);
          OUTPOST_RETURN_IF_ERROR(DeleteDevice(db, old->instance_id));
          std::unique_lock identities(registry_mu_);
          registry_->Remove(old->instance_id);
        }
        OUTPOST_RETURN_IF_ERROR(InsertDevice(db, record));
        if (moved) OUTPOST_RETURN_IF_ERROR(PersistDelta(db, moved->added));
        unit.mutated = true;
        {
          std::unique_lock identities(registry_mu_);
          registry_->Put(Registered(record));
        }

        json::object details{{"va", record.va},
                             {"udi", udi.ToString()},
                             {"hostname", record.hostname},
                             {"token_id", record.token_id},
                             {"export_allowed", record.export_allowed},
                             {"certificate_serial", record.cert_serial}};
        if (old) {
          details["replaced_instance_id"] = old->instance_id;
          details["carried_over"] = carried;
        }
        OUTPOST_RETURN_IF_ERROR(Audit(db, DeviceActor(instance_id),
                                      old ? "device.reregister" : "device.register",
                                      "device:" + instance_id, details, AuditTime()));

        v1::RegisterResponse response;
        response.set_instance_id(instance_id);
        response.set_va(record.va);
        response.set_udi(udi.ToString());
        response.set_certificate_pem(cert_pem);
        response.add_ca_chain_pem(ca_pem_);
        response.set_certificate_not_after(ToUnixSeconds(record.cert_not_after));
        response.set_certificate_not_after_text(FormatRfc3339(record.cert_not_after));
        const TimePoint renew = now + options_.certificate_renewal;
        response.set_renew_after(ToUnixSeconds(renew));
        response.set_renew_after_text(FormatRfc3339(renew));
        if (old) response.set_replaced_instance_id(old->instance_id);
        response.set_satellite_id(satellite_id_);
        response.set_signing_public_key_pem(signing_key_pem_);
        response.set_signing_key_id(signing_key_id_);
        response.set_export_allowed(record.export_allowed);
        return response;
      },
      [this, done = std::move(done)](Result<v1::RegisterResponse> r) {
        pending_registrations_.fetch_sub(1);
        done(std::move(r));
      });
}

Result<DeviceIdentity> LicensingImpl::Identify(
    const std::optional<crypto::Certificate>& certificate) const {
  if (!certificate) {
    return Unauthenticated(
        "this route needs the device's ID certificate (mutual TLS); register the device first "
        "with `outpost device register`");
  }
  DeviceIdentity id{certificate->subject_common_name(), certificate->serial_hex()};
  // Only registry_mu_: a device call is never held up behind a unit's SQL (mu_).
  std::shared_lock lock(registry_mu_);
  const std::optional<RegisteredDevice> d = registry_->Find(id.instance_id);
  if (!d) {
    return Unauthenticated("instance " + Quote(id.instance_id) +
                           " is not registered (released or replaced); register the device again");
  }
  if (d->cert_serial != id.cert_serial) {
    return Unauthenticated("this certificate of instance " + id.instance_id +
                           " is no longer valid (the registration moved or was renewed); register "
                           "the device again");
  }
  return id;
}

std::optional<std::string> LicensingImpl::CertifiedInstance(
    const std::optional<crypto::Certificate>& certificate) const {
  if (!certificate) return std::nullopt;
  std::string instance_id = certificate->subject_common_name();
  std::shared_lock lock(registry_mu_);
  if (!registry_->Contains(instance_id)) return std::nullopt;
  return instance_id;
}

// --- Certificate renewal ----------------------------------------------------------------------

void LicensingImpl::Renew(const DeviceIdentity& device, const crypto::Certificate& current,
                          const v1::RenewRequest& request, Callback<v1::RegisterResponse> done) {
  if (request.csr_pem().empty()) {
    return done(InvalidArgument(
        "a renewal needs csr_pem: a PKCS#10 request for the device's new key, with CN = its "
        "instance id"));
  }
  auto csr = crypto::CertificateSigningRequest::FromPem(request.csr_pem());
  if (!csr.ok()) {
    return done(InvalidArgument("csr_pem is not a PEM certificate signing request: " +
                                csr.status().message()));
  }
  if (Status s = csr->VerifySelfSignature(); !s.ok()) {
    return done(InvalidArgument("the CSR's signature does not verify (" + s.message() +
                                "); create it with the device's new key"));
  }
  if (csr->subject_common_name() != device.instance_id) {
    return done(PermissionDenied("the CSR names " + Quote(csr->subject_common_name()) +
                                 ", but the certificate presented is instance " +
                                 Quote(device.instance_id) +
                                 "; a device renews only its own certificate (CN = its instance "
                                 "id)"));
  }
  auto new_key = csr->public_key();
  auto current_key = current.public_key();
  if (!new_key.ok()) return done(InvalidArgument("the CSR's key: " + new_key.status().message()));
  if (current_key.ok() && *new_key == *current_key) {
    return done(InvalidArgument(
        "the CSR is for the device's current key; a renewal replaces the key as well: create the "
        "CSR with a new key"));
  }
  // Whole seconds of the high-water clock, like every licensing decision: setting the clock back
  // neither reopens an expired certificate nor opens renewal early.
  const TimePoint now = Now();
  if (current.not_after() <= now) {
    return done(FailedPrecondition(
        "the ID certificate of instance " + device.instance_id + " expired at " +
        FormatRfc3339(current.not_after()) +
        "; an expired certificate cannot be renewed. Register the device again with a token "
        "(`outpost device register --token ...`); its licenses carry over"));
  }
  const TimePoint opens = Truncate(current.not_before()) + options_.certificate_renewal;
  if (now < opens) {
    return done(FailedPrecondition("the ID certificate of instance " + device.instance_id +
                                   " can be renewed from " + FormatRfc3339(opens) +
                                   " (its renew_after); it is valid until " +
                                   FormatRfc3339(current.not_after()) + ". Try again then"));
  }
  crypto::CertificateProfile profile;
  profile.usage = crypto::CertificateProfile::kClient;
  profile.common_name = device.instance_id;
  profile.not_before = now;
  profile.not_after =
      std::min(now + options_.certificate_validity, Truncate(ca_.certificate().not_after()));
  auto certificate = ca_.IssueFromCsr(*csr, profile);
  if (!certificate.ok()) return done(certificate.status());
  // Read here, on the caller's thread: the writer thread only writes.
  const std::string cert_pem = certificate->ToPem();
  const std::string cert_serial = certificate->serial_hex();
  const TimePoint cert_not_after = certificate->not_after();
  Submit(
      [this, device, cert_pem, cert_serial, cert_not_after, old_not_after = current.not_after()](
          sqlite::Connection& db, UnitState& unit) -> Result<v1::RegisterResponse> {
        std::optional<RegisteredDevice> d = registry_->Find(device.instance_id);
        if (!d || d->cert_serial != device.cert_serial) {
          return Unauthenticated("instance " + device.instance_id +
                                 " was released, replaced or renewed meanwhile; register the "
                                 "device again");
        }
        OUTPOST_RETURN_IF_ERROR(
            UpdateDeviceCertificate(db, device.instance_id, cert_serial, cert_not_after));
        unit.mutated = true;
        d->cert_serial = cert_serial;
        d->cert_not_after = cert_not_after;
        {
          std::unique_lock identities(registry_mu_);
          registry_->Put(*d);
        }
        const TimePoint now = Now();
        OUTPOST_RETURN_IF_ERROR(Audit(db, DeviceActor(device.instance_id),
                                      "device.certificate.renew", "device:" + device.instance_id,
                                      {{"va", d->va},
                                       {"udi", d->udi.ToString()},
                                       {"previous_certificate_serial", device.cert_serial},
                                       {"previous_not_after", FormatRfc3339(old_not_after)},
                                       {"certificate_serial", cert_serial},
                                       {"not_after", FormatRfc3339(cert_not_after)}},
                                      AuditTime()));
        v1::RegisterResponse response;
        response.set_instance_id(d->instance_id);
        response.set_va(d->va);
        response.set_udi(d->udi.ToString());
        response.set_certificate_pem(cert_pem);
        response.add_ca_chain_pem(ca_pem_);
        response.set_certificate_not_after(ToUnixSeconds(cert_not_after));
        response.set_certificate_not_after_text(FormatRfc3339(cert_not_after));
        const TimePoint renew = now + options_.certificate_renewal;
        response.set_renew_after(ToUnixSeconds(renew));
        response.set_renew_after_text(FormatRfc3339(renew));
        response.set_satellite_id(satellite_id_);
        response.set_signing_public_key_pem(signing_key_pem_);
        response.set_signing_key_id(signing_key_id_);
        response.set_export_allowed(d->export_allowed);
        return response;
      },
      std::move(done));
}

// --- Authorization ----------------------------------------------------------------------------

v1::Authorization LicensingImpl::ToAuthorization(const RegisteredDevice& device,
                                                 const AuthorizationDecision& decision) const {
  v1::Authorization a;
  a.set_satellite_id(satellite_id_);
  a.set_instance_id(device.instance_id);
  a.set_va(device.va);
  a.set_udi(device.udi.ToString());
  a.set_issued_at(ToUnixSeconds(decision.issued_at));
  a.set_issued_at_text(FormatRfc3339(decision.issued_at));
  a.set_valid_until(ToUnixSeconds(decision.valid_until));
  a.set_valid_until_text(FormatRfc3339(decision.valid_until));
  a.set_renew_after(ToUnixSeconds(decision.renew_after));
  a.set_renew_after_text(FormatRfc3339(decision.renew_after));
  for (const TagDecision& t : decision.tags) {
    v1::TagAuthorization* ta = a.add_tags();
    ta->set_tag(t.tag);
    ta->set_requested(t.requested);
    ta->set_granted(t.granted);
    ta->set_status(std::string(TagStatusName(t.status)));
    ta->set_reason(t.reason);
    ta->set_floating(t.floating);
    if (t.valid_until) {
      ta->set_valid_until(ToUnixSeconds(*t.valid_until));
      ta->set_valid_until_text(FormatRfc3339(*t.valid_until));
    }
    if (t.renew_after) {
      ta->set_renew_after(ToUnixSeconds(*t.renew_after));
      ta->set_renew_after_text(FormatRfc3339(*t.renew_after));
    }
  }
  return a;
}

void LicensingImpl::SignAnswers(std::vector<UnsignedAnswer>& answers) const {
  if (answers.empty()) return;
  const size_t n = answers.size();
  std::vector<v1::SignedAuthorization> signed_answers(n);
  std::vector<std::string> leaves;
  leaves.reserve(n);
  Status failure;
  for (size_t i = 0; i < n; ++i) {
    v1::Authorization a = ToAuthorization(answers[i].device, answers[i].decision);
    std::string payload;
    if (!a.SerializeToString(&payload)) failure = Internal("cannot serialize an authorization");
    leaves.push_back(crypto::MerkleLeafHash(payload));
    signed_answers[i].set_payload(std::move(payload));
    *signed_answers[i].mutable_authorization() = std::move(a);
  }
  // One signature for the whole batch: over its size and the root of the tree of its answers.
  const crypto::MerkleTree tree = crypto::BuildMerkleTree(leaves);
  Result<std::string> signature =
      signing_key_.Sign(kAuthorizationBatchDomain, crypto::MerkleTreeHead(n, tree.root));
  if (failure.ok() && !signature.ok()) failure = signature.status();
  if (failure.ok()) {
    for (size_t i = 0; i < n; ++i) {
      v1::SignedAuthorization& out = signed_answers[i];
      out.set_key_id(signing_key_id_);
      out.set_algorithm(std::string(kAuthorizationBatchAlgorithm));
      out.set_signature(*signature);
      out.set_batch_index(i);
      out.set_batch_size(n);
      for (const std::string& sibling : tree.paths[i]) out.add_batch_path(sibling);
    }
  }
  // The callers last, touching nothing of the service: an answered caller may destroy it.
  for (size_t i = 0; i < n; ++i) {
    if (!failure.ok()) {
      answers[i].done(failure);
    } else {
      answers[i].done(std::move(signed_answers[i]));
    }
  }
}

void LicensingImpl::Authorize(const DeviceIdentity& device, const v1::AuthorizeRequest& request,
                              Callback<v1::SignedAuthorization> done) {
  std::vector<TagRequest> tags;
  tags.reserve(request.tags_size());
  for (const v1::TagUse& t : request.tags()) tags.push_back({t.tag(), t.count()});
  struct Outcome {
    RegisteredDevice device;
    AuthorizationDecision decision;
  };
  Submit(
      [this, device, tags = std::move(tags)](sqlite::Connection& db,
                                             UnitState& unit) -> Result<Outcome> {
        const std::optional<RegisteredDevice> found = registry_->Find(device.instance_id);
        if (!found || found->cert_serial != device.cert_serial) {
          return Unauthenticated("instance " + device.instance_id +
                                 " was released or replaced; register the device again");
        }
        const RegisteredDevice& d = *found;
        const TimePoint now = Now();
        OUTPOST_ASSIGN_OR_RETURN(
            AuthorizationDecision decision,
            book_.Authorize({d.instance_id, d.va, d.udi, d.export_allowed}, tags, now, policy_));
        unit.mutated = true;
        seen_[d.instance_id] = now;
        OUTPOST_RETURN_IF_ERROR(PersistDelta(db, decision.delta));
        if (OnlyExtendsValidity(decision)) {
          // A heartbeat: the compact record (docs/security.md, "device.renew").
          OUTPOST_RETURN_IF_ERROR(
              audit::Append(db,
                            {DeviceActor(d.instance_id), "device.renew", "",
                             "{\"tags\":" + std::to_string(decision.tags.size()) +
                                 ",\"digest\":\"" + TagsDigest(decision.tags) + "\"}"},
                            AuditTime()));
        } else {
          OUTPOST_RETURN_IF_ERROR(
              Audit(db, DeviceActor(d.instance_id), "device.authorize", "device:" + d.instance_id,
                    {{"va", d.va}, {"udi", d.udi.ToString()}, {"tags", PerTagJson(decision.tags)}},
                    AuditTime()));
        }
        return Outcome{d, std::move(decision)};
      },
      [this, done = std::move(done)](Result<Outcome> r, sqlite::Batch& batch) mutable {
        if (!r.ok()) return done(r.status());
        // Committed; signed with the rest of the batch once every Done of it has run.
        batch.Finisher<AnswerSigner>(this, this)
            .Add({std::move(r->device), std::move(r->decision), std::move(done)});
      });
}

// --- Release ----------------------------------------------------------------------------------

void LicensingImpl::ReleaseSelf(const DeviceIdentity& device, Callback<v1::ReleaseResponse> done) {
  Submit(
      [this, device](sqlite::Connection& db, UnitState& unit) -> Result<v1::ReleaseResponse> {
        const std::optional<RegisteredDevice> d = registry_->Find(device.instance_id);
        if (!d || d->cert_serial != device.cert_serial) {
          return Unauthenticated("instance " + device.instance_id +
                                 " was already released or replaced");
        }
        unit.mutated = true;
        std::vector<TagRequest> released;
        OUTPOST_RETURN_IF_ERROR(
            ReleaseLocked(db, device.instance_id, DeviceActor(device.instance_id), &released));
        v1::ReleaseResponse out;
        out.set_instance_id(device.instance_id);
        for (const TagRequest& t : released) {
          v1::TagUse* u = out.add_released();
          u->set_tag(t.tag);
          u->set_count(t.count);
        }
        return out;
      },
      std::move(done));
}

}  // namespace outpost::server::licensing
