#include "server/licensing/service.h"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <future>

#include "common/crypto/merkle.h"
#include "common/ids.h"
#include "common/text.h"
#include "common/time.h"
#include "server/audit/audit_log.h"
#include "server/audit/utf8.h"
#include "server/licensing/state_file.h"
#include "server/store/meta.h"
#include "spdlog/spdlog.h"

namespace outpost::server::licensing {
namespace {

namespace json = boost::json;

constexpr size_t kMaxHostnameBytes = 253;
constexpr size_t kMaxRateBuckets = 65536;
// The high-water mark is persisted when it moved at least this far (and at every stop).
constexpr Duration kHighWaterPersistStep = std::chrono::seconds(30);

TimePoint Truncate(TimePoint t) { return std::chrono::floor<std::chrono::seconds>(t); }

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

Status Audit(sqlite::Connection& db, audit::Actor actor, std::string action, std::string object,
             const json::object& details, TimePoint now) {
  return audit::Append(
      db, {std::move(actor), std::move(action), std::move(object), json::serialize(details)}, now);
}

audit::Actor DeviceActor(const std::string& instance_id) { return {"device", instance_id}; }

RegisteredDevice Registered(const DeviceRecord& d) {
  return {d.instance_id, d.va, d.udi, d.export_allowed, d.cert_serial, d.cert_not_after};
}

json::array TagsJson(const ConsumptionDelta& delta, bool old_counts) {
  json::array out;
  for (const TagChange& c : delta.changes) {
    out.push_back(json::object{{"tag", c.tag}, {"count", old_counts ? c.old_count : c.new_count}});
  }
  return out;
}

}  // namespace

LicensingService::LicensingService(sqlite::Writer& writer, sqlite::ReaderPool& readers,
                                   const Clock& clock, crypto::CertificateAuthority ca,
                                   const crypto::PrivateKey& signing_key, std::string satellite_id,
                                   TokenStore& tokens, LicensingOptions options,
                                   TimePoint high_water)
    : writer_(writer),
      readers_(readers),
      clock_(clock, high_water, options.clock_rollback_tolerance),
      ca_(std::move(ca)),
      signing_key_(signing_key),
      signing_key_id_(signing_key.public_key().KeyId()),
      signing_key_pem_(signing_key.public_key().ToPem()),
      ca_pem_(ca_.certificate().ToPem()),
      satellite_id_(std::move(satellite_id)),
      tokens_(tokens),
      options_(options),
      policy_(options.policy),
      registry_(std::make_unique<DeviceRegistry>()),
      registrations_(clock, options.registration_rate_per_minute, kMaxRateBuckets) {
  persisted_high_water_ = high_water;
}

LicensingService::~LicensingService() = default;

Result<std::unique_ptr<LicensingService>> LicensingService::Open(
    sqlite::Writer& writer, sqlite::ReaderPool& readers, const Clock& clock,
    crypto::CertificateAuthority ca, const crypto::PrivateKey& signing_key,
    std::string satellite_id, TokenStore& tokens, LicensingOptions options) {
  OUTPOST_RETURN_IF_ERROR(options.policy.Validate());
  TimePoint high_water;
  {
    OUTPOST_ASSIGN_OR_RETURN(auto lease, readers.Acquire());
    OUTPOST_ASSIGN_OR_RETURN(auto stored, store::kSatelliteMeta.Get(*lease, "clock_high_water"));
    if (stored) {
      OUTPOST_ASSIGN_OR_RETURN(int64_t seconds, ParseStoredInt("clock_high_water", *stored));
      high_water = FromUnixSeconds(seconds);
    }
  }
  std::unique_ptr<LicensingService> service(
      new LicensingService(writer, readers, clock, std::move(ca), signing_key,
                           std::move(satellite_id), tokens, options, high_water));
  LicensingService* raw = service.get();
  // The state file saved at the last clean stop, if the tables have not changed since; otherwise
  // the tables, the consumption through a reader connection on a second thread while the
  // writer's connection reads the devices. Nothing else writes yet (the service does not exist
  // for anyone else, and the server is not started), so both connections see the same state.
  OUTPOST_ASSIGN_OR_RETURN(auto second, readers.Acquire());
  OUTPOST_RETURN_IF_ERROR(writer.Run([raw, &second](sqlite::Connection& db) -> Status {
    std::unique_lock lock(raw->mu_);
    if (!raw->options_.state_file.empty()) {
      const Status s = raw->LoadStateFileLocked(db);
      if (s.ok()) {
        raw->opened_from_state_file_ = true;
        return s;
      }
      if (s.code() != Errc::kNotFound) {
        spdlog::warn("not using the licensing state file ({}); reading the tables instead",
                     s.message());
        // Its token names a file that cannot be read: void it, so the next stop saves anew.
        OUTPOST_RETURN_IF_ERROR(db.ExecPrepared("DELETE FROM licensing_state").status());
      }
    }
    return raw->ReloadLocked(db, &*second);
  }));
  raw->reloads_ = 0;
  return service;
}

TimePoint LicensingService::Now() const { return Truncate(clock_.Now()); }

size_t LicensingService::device_count() const {
  std::shared_lock lock(mu_);
  return registry_->size();
}

void LicensingService::SetPolicy(const AuthorizationPolicy& policy) {
  std::unique_lock lock(mu_);
  policy_ = policy;
}

void LicensingService::MarkStale() {
  std::unique_lock lock(mu_);
  stale_ = true;
}

// --- Units of work ----------------------------------------------------------------------------

template <typename WorkFn, typename DoneFn>
void LicensingService::Submit(WorkFn work, DoneFn done) {
  using Outcome = std::invoke_result_t<WorkFn&, sqlite::Connection&, UnitState&>;
  // The unit keeps its own state (did it change memory? what did it return?) for its Done.
  class ServiceUnit final : public sqlite::Unit {
   public:
    ServiceUnit(LicensingService* service, WorkFn work, DoneFn done)
        : service_(service), work_(std::move(work)), done_(std::move(done)) {}
    Status Run(sqlite::Connection& db) override {
      std::unique_lock lock(service_->mu_);
      if (service_->stale_) OUTPOST_RETURN_IF_ERROR(service_->ReloadLocked(db));
      Status s;
      if constexpr (std::is_same_v<Outcome, Status>) {
        s = work_(db, state_);
      } else {
        result_.emplace(work_(db, state_));
        s = result_->ok() ? Status::Ok() : result_->status();
      }
      if (!s.ok() && state_.mutated) service_->stale_ = true;
      return s;
    }
    void Done(const Status& s, sqlite::Batch& batch) override {
      if (!s.ok() && state_.mutated) {
        std::unique_lock lock(service_->mu_);
        service_->stale_ = true;
      }
      if constexpr (std::is_same_v<Outcome, Status>) {
        Call(Status(s), batch);
      } else if (!s.ok()) {
        Call(Outcome(s), batch);
      } else if (!result_) {
        Call(Outcome(Internal("the unit of work did not run")), batch);
      } else {
        Call(std::move(*result_), batch);
      }
    }

   private:
    void Call(Outcome outcome, sqlite::Batch& batch) {
      if constexpr (std::is_invocable_v<DoneFn&, Outcome, sqlite::Batch&>) {
        done_(std::move(outcome), batch);
      } else {
        done_(std::move(outcome));
      }
    }
    LicensingService* service_;
    WorkFn work_;
    DoneFn done_;
    UnitState state_;
    std::optional<Outcome> result_;
  };
  writer_.Submit(std::make_unique<ServiceUnit>(this, std::move(work), std::move(done)));
}

// The answers one writer batch committed: signed together once the batch's Dones have run.
class LicensingService::AnswerSigner final : public sqlite::BatchFinisher {
 public:
  explicit AnswerSigner(const LicensingService* service) : service_(service) {}
  void Add(UnsignedAnswer answer) { answers_.push_back(std::move(answer)); }
  void Finish() override { service_->SignAnswers(answers_); }

 private:
  const LicensingService* service_;
  std::vector<UnsignedAnswer> answers_;
};

Status LicensingService::RunUnit(Work work) {
  // Shared, not on this stack: the writer thread may still be inside set_value() when get()
  // returns here and this frame unwinds (see sqlite::Writer::Run).
  auto promise = std::make_shared<std::promise<Status>>();
  std::future<Status> outcome = promise->get_future();
  Submit(std::move(work), [promise](Status s) { promise->set_value(std::move(s)); });
  return outcome.get();
}

Status LicensingService::ReloadLocked(sqlite::Connection& db, sqlite::Connection* second) {
  // Streamed from the rows into the compact structures; the old state stays until both loaded.
  const auto started = std::chrono::steady_clock::now();
  auto registry = std::make_unique<DeviceRegistry>();
  PoolBook::Restorer restorer(book_);
  OUTPOST_ASSIGN_OR_RETURN(const LoadTimes times,
                           LoadLicensingState(db, second, *registry, restorer));
  const auto finish_started = std::chrono::steady_clock::now();
  OUTPOST_RETURN_IF_ERROR(restorer.Finish(Now()));
  {
    std::unique_lock identities(registry_mu_);
    registry_ = std::move(registry);
  }
  const auto seconds = [](auto d) { return std::chrono::duration<double>(d).count(); };
  // The first load is news; a reload after a failed write is a warning, except while the disk
  // refuses every write (the writer logged that once; one line per request would drown it).
  const auto level = !stale_                               ? spdlog::level::info
                     : writer_.storage_fault().has_value() ? spdlog::level::debug
                                                           : spdlog::level::warn;
  spdlog::log(level,
              "licensing state {}: {} devices in {:.3f} s (devices {:.3f} s{} book rows {:.3f} s, "
              "identities {:.3f} s, book {:.3f} s)",
              !stale_ ? "loaded" : "reloaded from the database after a failed write",
              registry_->size(), seconds(std::chrono::steady_clock::now() - started), times.devices,
              second != nullptr ? " while" : ",", times.book_rows, times.identities,
              seconds(std::chrono::steady_clock::now() - finish_started));
  stale_ = false;
  ++reloads_;
  return Status::Ok();
}

Status LicensingService::LoadStateFileLocked(sqlite::Connection& db) {
  const auto started = std::chrono::steady_clock::now();
  std::string token;
  {
    OUTPOST_ASSIGN_OR_RETURN(auto stmt, db.Query("SELECT token FROM licensing_state"));
    OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return NotFound("no state saved since the devices or consumption last changed");
    token = stmt->ColumnText(0);
  }
  auto registry = std::make_unique<DeviceRegistry>();
  PoolBook::Restorer restorer(book_);
  OUTPOST_RETURN_IF_ERROR(LoadEntitlementsAndReservations(db, restorer));
  OUTPOST_RETURN_IF_ERROR(ReadStateFile(options_.state_file, token, *registry, restorer));
  OUTPOST_RETURN_IF_ERROR(restorer.Finish(Now()));
  {
    std::unique_lock identities(registry_mu_);
    registry_ = std::move(registry);
  }
  spdlog::info("licensing state loaded from {}: {} devices in {:.3f} s",
               options_.state_file.string(), registry_->size(),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  stale_ = false;
  return Status::Ok();
}

Status LicensingService::SaveState() {
  if (options_.state_file.empty()) return Status::Ok();
  return RunUnit([this](sqlite::Connection& db, UnitState&) -> Status {
    // Memory equals the committed tables here: a unit that failed after changing memory made the
    // state stale, and Submit reloaded it before this ran.
    std::optional<std::string> current;
    {
      OUTPOST_ASSIGN_OR_RETURN(auto stmt, db.Query("SELECT token FROM licensing_state"));
      OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (row) current = stmt->ColumnText(0);
    }
    if (current && StateFileToken(options_.state_file) == current) return Status::Ok();
    const auto started = std::chrono::steady_clock::now();
    const std::string token = NewUuid();
    // The file first: a token committed without its file would name nothing (and be harmless),
    // a file without its token is never read.
    OUTPOST_RETURN_IF_ERROR(WriteStateFile(options_.state_file, token, *registry_, book_));
    OUTPOST_RETURN_IF_ERROR(db.ExecPrepared("DELETE FROM licensing_state").status());
    OUTPOST_RETURN_IF_ERROR(
        db.ExecPrepared("INSERT INTO licensing_state(token) VALUES (?)", token).status());
    spdlog::info("licensing state saved to {} in {:.3f} s", options_.state_file.string(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    return Status::Ok();
  });
}

// --- Registration -----------------------------------------------------------------------------

Status LicensingService::CheckRateLimit(const std::string& remote_address) {
  const std::optional<int> wait = registrations_.Take(remote_address);
  if (!wait) return Status::Ok();
  return ResourceExhausted("too many registrations from " + remote_address + " (limit " +
                           std::to_string(registrations_.per_minute()) + " per minute); retry in " +
                           DurationText(*wait));
}

void LicensingService::Register(const v1::RegisterRequest& request,
                                const std::string& remote_address,
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
  Submit(
      [this, request, udi, instance_id, cert_serial, cert_not_after, cert_pem, proven_instance](
          sqlite::Connection& db, UnitState& unit) -> Result<v1::RegisterResponse> {
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
          if (!proven && !rehosted) {
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

Result<DeviceIdentity> LicensingService::Identify(
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

// --- Authorization ----------------------------------------------------------------------------

v1::Authorization LicensingService::ToAuthorization(const RegisteredDevice& device,
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

void LicensingService::SignAnswers(std::vector<UnsignedAnswer>& answers) const {
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
  for (size_t i = 0; i < n; ++i) {
    Result<v1::SignedAuthorization> result = [&]() -> Result<v1::SignedAuthorization> {
      if (!failure.ok()) return failure;
      v1::SignedAuthorization& out = signed_answers[i];
      out.set_key_id(signing_key_id_);
      out.set_algorithm(std::string(kAuthorizationBatchAlgorithm));
      out.set_signature(*signature);
      out.set_batch_index(i);
      out.set_batch_size(n);
      for (const std::string& sibling : tree.paths[i]) out.add_batch_path(sibling);
      return std::move(out);
    }();
    answers[i].done(std::move(result));
  }
}

void LicensingService::Authorize(const DeviceIdentity& device, const v1::AuthorizeRequest& request,
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
        json::array per_tag;
        for (const TagDecision& t : decision.tags) {
          per_tag.push_back(json::object{{"tag", t.tag},
                                         {"requested", t.requested},
                                         {"granted", t.granted},
                                         {"status", TagStatusName(t.status)}});
        }
        OUTPOST_RETURN_IF_ERROR(
            Audit(db, DeviceActor(d.instance_id), "device.authorize", "device:" + d.instance_id,
                  {{"va", d.va}, {"udi", d.udi.ToString()}, {"tags", per_tag}}, AuditTime()));
        return Outcome{d, std::move(decision)};
      },
      [this, done = std::move(done)](Result<Outcome> r, sqlite::Batch& batch) mutable {
        if (!r.ok()) return done(r.status());
        // Committed; signed with the rest of the batch once every Done of it has run.
        batch.Finisher<AnswerSigner>(this, this)
            .Add({std::move(r->device), std::move(r->decision), std::move(done)});
      });
}

// --- Release, rehost --------------------------------------------------------------------------

Status LicensingService::ReleaseLocked(sqlite::Connection& db, const std::string& instance_id,
                                       const audit::Actor& actor,
                                       std::vector<TagRequest>* released) {
  const std::optional<RegisteredDevice> d = registry_->Find(instance_id);
  if (!d) {
    return NotFound("instance " + Quote(instance_id) +
                    " is not registered; list devices with `outpost devices`");
  }
  const RegisteredDevice record = *d;
  const TimePoint now = Now();
  OUTPOST_ASSIGN_OR_RETURN(ConsumptionDelta delta, book_.Release(instance_id, now));
  {
    std::unique_lock identities(registry_mu_);
    registry_->Remove(instance_id);
  }
  OUTPOST_RETURN_IF_ERROR(PersistDelta(db, delta));
  OUTPOST_RETURN_IF_ERROR(DeleteDevice(db, instance_id));
  for (const TagChange& c : delta.changes) released->push_back({c.tag, c.old_count});
  return Audit(
      db, actor, "device.release", "device:" + instance_id,
      {{"va", record.va}, {"udi", record.udi.ToString()}, {"released", TagsJson(delta, true)}},
      AuditTime());
}

void LicensingService::ReleaseSelf(const DeviceIdentity& device,
                                   Callback<v1::ReleaseResponse> done) {
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

Result<v1::ReleaseDeviceResponse> LicensingService::ReleaseDevice(std::string_view instance_id,
                                                                  const auth::Principal& by) {
  OUTPOST_RETURN_IF_ERROR(ValidateInstanceId(instance_id));
  std::vector<TagRequest> released;
  const std::string id(instance_id);
  OUTPOST_RETURN_IF_ERROR(RunUnit([&](sqlite::Connection& db, UnitState& unit) -> Status {
    if (registry_->Contains(id)) unit.mutated = true;
    return ReleaseLocked(db, id, by.actor(), &released);
  }));
  v1::ReleaseDeviceResponse out;
  out.set_instance_id(id);
  for (const TagRequest& t : released) {
    v1::TagUse* u = out.add_released();
    u->set_tag(t.tag);
    u->set_count(t.count);
  }
  return out;
}

Result<v1::Device> LicensingService::RehostDevice(std::string_view instance_id,
                                                  std::string_view new_udi,
                                                  const auth::Principal& by) {
  OUTPOST_RETURN_IF_ERROR(ValidateInstanceId(instance_id));
  OUTPOST_ASSIGN_OR_RETURN(Udi udi, ParseUdi(new_udi));
  const std::string id(instance_id);
  v1::Device out;
  OUTPOST_RETURN_IF_ERROR(RunUnit([&](sqlite::Connection& db, UnitState& unit) -> Status {
    const std::optional<RegisteredDevice> d = registry_->Find(id);
    if (!d) {
      return NotFound("instance " + Quote(id) +
                      " is not registered; list devices with `outpost devices`");
    }
    if (auto holder = registry_->FindByUdi(udi)) {
      return AlreadyExists("UDI " + Quote(udi.ToString()) + " is already registered (instance " +
                           *holder + "); release it first");
    }
    if (auto vs = registry_->FindByVaSerial(d->va, udi.serial); vs && *vs != id) {
      return AlreadyExists("serial " + Quote(udi.serial) + " is already registered in " +
                           Quote(d->va) + " under another product");
    }
    RegisteredDevice record = *d;
    const Udi old_udi = record.udi;
    OUTPOST_ASSIGN_OR_RETURN(RehostDelta moved, book_.Rehost(id, id, udi));
    unit.mutated = true;
    record.udi = udi;
    record.cert_serial.clear();
    {
      std::unique_lock identities(registry_mu_);
      registry_->Remove(id);
      registry_->Put(record);
    }
    OUTPOST_RETURN_IF_ERROR(PersistDelta(db, moved.removed));
    OUTPOST_RETURN_IF_ERROR(PersistDelta(db, moved.added));
    OUTPOST_RETURN_IF_ERROR(UpdateDeviceUdi(db, id, udi));
    out = ToDeviceLocked(record);
    OUTPOST_RETURN_IF_ERROR(FillFromRow(db, out));  // this transaction's view of the row
    return Audit(db, by.actor(), "device.rehost", "device:" + id,
                 {{"va", record.va},
                  {"from_udi", old_udi.ToString()},
                  {"to_udi", udi.ToString()},
                  {"moved", TagsJson(moved.added, false)}},
                 AuditTime());
  }));
  return out;
}

// --- Moves and reservations -------------------------------------------------------------------

Result<v1::MoveLicensesResponse> LicensingService::MoveLicenses(
    const v1::MoveLicensesRequest& request, const auth::Principal& by) {
  // The messages name the CLI's flags and the API's fields alike.
  OUTPOST_RETURN_IF_ERROR(
      CheckVirtualAccount(request.from_va()).WithContext("source virtual account (--from)"));
  OUTPOST_RETURN_IF_ERROR(
      CheckVirtualAccount(request.to_va()).WithContext("target virtual account (--to)"));
  OUTPOST_RETURN_IF_ERROR(ValidateTag(request.tag()));
  OUTPOST_RETURN_IF_ERROR(ValidateCount(request.count(), "the count (--count)"));
  if (request.from_va() == request.to_va()) {
    return InvalidArgument("the source and target virtual accounts (--from and --to) are both " +
                           Quote(request.from_va()) +
                           "; a move needs two different virtual accounts");
  }
  MoveRecord move{NewUuid(),       request.from_va(), request.to_va(),      request.tag(),
                  request.count(), TimePoint(),       by.actor().ToString()};
  OUTPOST_RETURN_IF_ERROR(RunUnit([&](sqlite::Connection& db, UnitState& unit) -> Status {
    const TimePoint now = Now();
    move.created_at = now;
    OUTPOST_ASSIGN_OR_RETURN(auto changed,
                             book_.ApplyMove(move.from_va, move.to_va, move.tag, move.count, now));
    unit.mutated = true;
    OUTPOST_RETURN_IF_ERROR(UpsertEntitlements(db, changed));
    OUTPOST_RETURN_IF_ERROR(InsertMove(db, move));
    return Audit(db, by.actor(), "license.move", "move:" + move.id,
                 {{"from_va", move.from_va},
                  {"to_va", move.to_va},
                  {"tag", move.tag},
                  {"count", move.count}},
                 AuditTime());
  }));
  v1::MoveLicensesResponse out;
  out.set_move_id(move.id);
  out.set_from_va(move.from_va);
  out.set_to_va(move.to_va);
  out.set_tag(move.tag);
  out.set_count(move.count);
  return out;
}

Result<v1::Reservation> LicensingService::Reserve(const v1::ReservationRequest& request,
                                                  const auth::Principal& by) {
  OUTPOST_ASSIGN_OR_RETURN(Udi udi, ParseUdi(request.udi()));
  Reservation wanted{request.va(), request.tag(), udi, request.count()};
  OUTPOST_RETURN_IF_ERROR(ValidateReservation(wanted));
  OUTPOST_RETURN_IF_ERROR(CheckVirtualAccount(wanted.va));
  Reservation held;
  OUTPOST_RETURN_IF_ERROR(RunUnit([&](sqlite::Connection& db, UnitState& unit) -> Status {
    const TimePoint now = Now();
    OUTPOST_ASSIGN_OR_RETURN(held, book_.AddReservation(wanted, now));
    unit.mutated = true;
    OUTPOST_RETURN_IF_ERROR(PersistReservation(db, held));
    return Audit(db, by.actor(), "license.reserve", "reservation:" + held.va + "/" + held.tag,
                 {{"va", held.va},
                  {"tag", held.tag},
                  {"udi", udi.ToString()},
                  {"added", wanted.count},
                  {"count", held.count}},
                 AuditTime());
  }));
  v1::Reservation out;
  out.set_va(held.va);
  out.set_tag(held.tag);
  out.set_udi(held.udi.ToString());
  out.set_count(held.count);
  return out;
}

Status LicensingService::Unreserve(const v1::ReservationRequest& request,
                                   const auth::Principal& by) {
  OUTPOST_ASSIGN_OR_RETURN(Udi udi, ParseUdi(request.udi()));
  OUTPOST_RETURN_IF_ERROR(ValidateVaName(request.va()));
  OUTPOST_RETURN_IF_ERROR(ValidateTag(request.tag()));
  return RunUnit([&](sqlite::Connection& db, UnitState& unit) -> Status {
    OUTPOST_RETURN_IF_ERROR(book_.RemoveReservation(request.va(), request.tag(), udi));
    unit.mutated = true;
    OUTPOST_RETURN_IF_ERROR(PersistReservation(db, {request.va(), request.tag(), udi, 0}));
    return Audit(
        db, by.actor(), "license.unreserve", "reservation:" + request.va() + "/" + request.tag(),
        {{"va", request.va()}, {"tag", request.tag()}, {"udi", udi.ToString()}}, AuditTime());
  });
}

// --- Background and sync ----------------------------------------------------------------------

Status LicensingService::Sweep(bool final) {
  const std::optional<ClockRollback> rollback = clock_.TakeRollback();
  if (rollback) {
    spdlog::error(
        "CLOCK_ROLLBACK: the system clock says {} but the satellite has seen {}; expiry "
        "decisions keep using the later time",
        FormatRfc3339(rollback->real), FormatRfc3339(rollback->high_water));
  }
  std::vector<std::pair<std::string, TimePoint>> seen;
  OUTPOST_RETURN_IF_ERROR(RunUnit([&](sqlite::Connection& db, UnitState& unit) -> Status {
    const TimePoint now = Now();
    if (rollback) {
      OUTPOST_RETURN_IF_ERROR(
          Audit(db, audit::Actor::System(), "alarm.clock_rollback", "satellite:" + satellite_id_,
                {{"alarm", "CLOCK_ROLLBACK"},
                 {"system_time", FormatRfc3339(rollback->real)},
                 {"high_water", FormatRfc3339(rollback->high_water)},
                 {"behind_seconds",
                  std::chrono::duration_cast<std::chrono::seconds>(rollback->behind).count()}},
                AuditTime()));
    }
    unit.mutated = true;
    for (const ConsumptionDelta& delta : book_.Sweep(now)) {
      OUTPOST_RETURN_IF_ERROR(PersistDelta(db, delta));
      OUTPOST_RETURN_IF_ERROR(Audit(
          db, audit::Actor::System(), "license.sweep", "device:" + delta.instance_id,
          {{"va", delta.va}, {"udi", delta.udi.ToString()}, {"expired", TagsJson(delta, true)}},
          AuditTime()));
    }
    OUTPOST_RETURN_IF_ERROR(InsertUsageSamples(db, usage_.CloseHours(now)));
    if (final || now >= last_seen_flushed_ + options_.last_seen_flush_interval) {
      seen.assign(seen_.begin(), seen_.end());
      seen_.clear();
      last_seen_flushed_ = now;
    }
    const TimePoint high_water = Truncate(clock_.HighWater());
    if (high_water >= persisted_high_water_ + kHighWaterPersistStep) {
      OUTPOST_RETURN_IF_ERROR(store::kSatelliteMeta.Set(db, "clock_high_water",
                                                        std::to_string(ToUnixSeconds(high_water))));
      persisted_high_water_ = high_water;
    }
    return Status::Ok();
  }));
  // In short units of their own: renewals queued meanwhile commit between them. A device
  // released meanwhile has no row left to update.
  constexpr size_t kLastSeenPerUnit = 64;
  for (size_t first = 0; first < seen.size(); first += kLastSeenPerUnit) {
    const size_t end = std::min(seen.size(), first + kLastSeenPerUnit);
    OUTPOST_RETURN_IF_ERROR(writer_.Run([&](sqlite::Connection& db) -> Status {
      for (size_t i = first; i < end; ++i) {
        OUTPOST_RETURN_IF_ERROR(TouchDevice(db, seen[i].first, seen[i].second));
      }
      return Status::Ok();
    }));
  }
  return Status::Ok();
}

Status LicensingService::ReplaceEntitlementsOn(sqlite::Connection& db,
                                               std::vector<Entitlement> entitlements,
                                               const std::vector<MoveRecord>& reapply) {
  std::unique_lock lock(mu_);
  if (stale_) OUTPOST_RETURN_IF_ERROR(ReloadLocked(db));
  OUTPOST_RETURN_IF_ERROR(book_.ReplaceEntitlements(std::move(entitlements)));
  // From here on memory changed: any failure leaves it to the next unit to reload.
  stale_ = true;
  const TimePoint now = Now();
  for (const MoveRecord& m : reapply) {
    auto changed = book_.ApplyMove(m.from_va, m.to_va, m.tag, m.count, now);
    if (!changed.ok()) {
      spdlog::warn(
          "local move {} no longer fits the entitlements central sent ({}); central "
          "will answer it at the next sync",
          m.id, changed.status().message());
    }
  }
  OUTPOST_RETURN_IF_ERROR(ReplaceEntitlementRows(db, book_.Entitlements()));
  stale_ = false;
  return Status::Ok();
}

AuthorizationPolicy LicensingService::policy() const {
  std::shared_lock lock(mu_);
  return policy_;
}

Status LicensingService::ReplaceEntitlements(std::vector<Entitlement> entitlements,
                                             const audit::Actor& actor) {
  for (const Entitlement& e : entitlements) {
    OUTPOST_RETURN_IF_ERROR(ValidateEntitlement(e));
  }
  const size_t count = entitlements.size();
  return RunUnit([&](sqlite::Connection& db, UnitState& unit) -> Status {
    unit.mutated = true;
    OUTPOST_RETURN_IF_ERROR(ReplaceEntitlementRows(db, entitlements));
    OUTPOST_RETURN_IF_ERROR(book_.ReplaceEntitlements(std::move(entitlements)));
    return Audit(db, actor, "entitlements.replace", "satellite:" + satellite_id_,
                 {{"count", count}}, AuditTime());
  });
}

}  // namespace outpost::server::licensing
