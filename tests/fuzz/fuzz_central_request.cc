// What central does with a POST /v1/sync body before any database write (issue 17): the input is
// the body as received, binary or armored. `DecodeBundle` with central's 16 MiB limit, then
// `AdmitSyncRequest` (sync/central/admission.h) on a read-only connection to a central database
// built once with central's schema and the world of central_request_input.h (three enrolled
// satellites of two accounts), exactly as central's admission threads run it. Because fuzzed
// bytes rarely carry a valid signature, the payload is also re-signed with each satellite key
// (bound to acme's satellite, bound to evilcorp's, and a key bound to nobody that acme's
// unbound satellite may introduce with its enrollment proof) and admitted again, so the checks
// after the signature run: the binding, the account, the central key, `CheckRequestContents`
// and the account's VAs and tags. `CheckRequestContents` also runs on every request payload
// that parses, with acme's satellite key.
//
// Properties beyond "no crash, no sanitizer report":
//   - every refusal is a 4xx (HttpStatusFor): nothing a client sends may look like a 5xx;
//   - an admitted request verifies with the key of the satellite it was admitted as, names that
//     satellite and its account, and only the satellite bound to a key is admitted with it
//     (the unbound key only as first contact of the unbound satellite);
//   - a flipped signature bit is never admitted;
//   - what is admitted (and what CheckRequestContents accepts) is within the documented limits:
//     counts, unique ids, periods between 2000 and a day from now, quantities, an audit head
//     signed by the sending key; admitted reports name the account's VAs and tags;
//   - a refusal names no account id or bound key id that the request did not itself carry.
//
// FUZZ_CENTRAL_VERBOSE=1 prints each admission's outcome (to check what a seed reaches).
// The database lives in a temporary directory made at start and removed at exit (a crash
// leaves it behind under $TMPDIR, a few hundred KB).
#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "common/crypto/encoding.h"
#include "common/crypto/hash.h"
#include "common/sqlite/connection.h"
#include "common/sqlite/migrations.h"
#include "common/status.h"
#include "sync/bundle/armor.h"
#include "sync/bundle/codec.h"
#include "sync/bundle/trust.h"
#include "sync/central/admission.h"
#include "sync/central/request_checks.h"
#include "sync/central/schema.h"
#include "sync/central/validation.h"
#include "tests/fuzz/central_request_input.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using namespace outpost;
namespace fs = std::filesystem;
namespace w = fuzz::central_world;

// Central's default body limit (central.h, max_request_bytes).
constexpr size_t kMaxRequestBytes = size_t{16} << 20;

struct World {
  fs::path dir;
  std::optional<sqlite::Connection> reader;
};

void Must(const Status& s, const char* what) {
  if (!s.ok()) std::fprintf(stderr, "%s: %s\n", what, s.message().c_str());
  fuzz::Check(s.ok(), what);
}

void RemoveWorld();

World& TheWorld() {
  static World* world = [] {
    auto* out = new World;
    std::string tmpl = (fs::temp_directory_path() / "fuzz_central_request.XXXXXX").string();
    fuzz::Check(::mkdtemp(tmpl.data()) != nullptr, "mkdtemp");
    out->dir = tmpl;
    const fs::path db_path = out->dir / "central.db";
    {
      sqlite::OpenOptions options;
      options.synchronous = sqlite::Synchronous::kNormal;
      auto db = sqlite::Connection::Open(db_path, options);
      Must(db.status(), "open central.db");
      Must(sqlite::Migrate(*db, central::CentralMigrations()), "central schema");
      const int64_t t = w::kNow - 86400 * 30;
      for (const char* account : {w::kAcme, w::kEvil}) {
        Must(db->ExecPrepared("INSERT INTO accounts VALUES (?, ?, ?)", account, "Name", t).status(),
             "account");
        Must(db->ExecPrepared("INSERT INTO virtual_accounts VALUES (?, 'default', ?)", account, t)
                 .status(),
             "va default");
        Must(db->ExecPrepared("INSERT INTO entitlements (id, account_id, va, tag, quantity, start, "
                              "end_at, enforcement, floating, export_controlled, origin, "
                              "created_at) VALUES (?, ?, 'default', ?, 10, ?, 0, 1, 0, 0, "
                              "'order', ?)",
                              std::string("ent-") + account, account, w::kTag, t, t)
                 .status(),
             "entitlement");
      }
      Must(db->ExecPrepared("INSERT INTO virtual_accounts VALUES (?, ?, ?)", w::kAcme, w::kVa, t)
               .status(),
           "va");
      const auto bind = [&](const char* id, const char* account, const crypto::PrivateKey& key,
                            int64_t last_sequence) {
        Must(db->ExecPrepared("INSERT INTO satellites (id, account_id, name, enrolled_at, "
                              "public_key_pem, key_id, bound_at, last_sequence) VALUES (?, ?, "
                              "'fuzz', ?, ?, ?, ?, ?)",
                              id, account, t, key.public_key().ToPem(), key.public_key().KeyId(), t,
                              last_sequence)
                 .status(),
             "bound satellite");
      };
      bind(w::kAcmeSatellite, w::kAcme, w::AcmeSatelliteKey(), w::kAcmeLastSequence);
      bind(w::kEvilSatellite, w::kEvil, w::EvilSatelliteKey(), 1);
      auto verifier = sync::EnrollmentVerifier(w::NewEnrollmentSecret());
      Must(verifier.status(), "verifier");
      Must(db->ExecPrepared("INSERT INTO satellites (id, account_id, name, enrolled_at, "
                            "enrollment_verifier) VALUES (?, ?, 'fuzz-new', ?, ?)",
                            w::kNewSatellite, w::kAcme, t, sqlite::Blob{*verifier})
               .status(),
           "unbound satellite");
    }
    sqlite::OpenOptions read_only;
    read_only.mode = sqlite::OpenMode::kReadOnly;
    auto reader = sqlite::Connection::Open(db_path, read_only);
    Must(reader.status(), "open central.db read-only");
    out->reader.emplace(std::move(*reader));
    std::atexit(RemoveWorld);
    return out;
  }();
  return *world;
}

void RemoveWorld() {
  World& world = TheWorld();
  world.reader.reset();
  std::error_code ec;
  fs::remove_all(world.dir, ec);
}

const bool kVerbose = std::getenv("FUZZ_CENTRAL_VERBOSE") != nullptr;

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// What an admitted (or CheckRequestContents-accepted) request must satisfy, checked here
// independently of request_checks.cc.
void CheckWithinLimits(const v1::SyncRequest& request, const crypto::PublicKey& key) {
  fuzz::Check(request.usage_reports_size() <= central::kMaxUsageReportsPerRequest, "reports");
  fuzz::Check(request.moves_size() <= central::kMaxMovesPerRequest, "moves");
  fuzz::Check(request.conversions_size() <= central::kMaxConversionsPerRequest, "conversions");
  fuzz::Check(request.software_version().size() <= central::kMaxSoftwareVersionBytes, "version");
  std::set<std::string> ids;
  for (const v1::UsageReport& r : request.usage_reports()) {
    fuzz::Check(!r.report_id().empty() && r.report_id().size() <= central::kMaxItemIdBytes,
                "accepted a report id that is empty or too long");
    fuzz::Check(ids.insert(r.report_id()).second, "accepted a repeated report id");
    fuzz::Check(r.period_start() >= central::kEarliestUsageTime &&
                    r.period_end() > r.period_start() &&
                    r.period_end() <= w::kNow + central::kUsageClockSkew,
                "accepted a usage period that cannot be true");
    fuzz::Check(r.peak_in_use() >= 0 && r.peak_in_use() <= central::kMaxQuantity,
                "accepted a peak out of range");
    fuzz::Check(r.samples_size() <= central::kMaxSamplesPerReport, "accepted too many samples");
    for (const auto& s : r.samples()) {
      fuzz::Check(s.peak_in_use() >= 0 && s.peak_in_use() <= r.peak_in_use(),
                  "accepted a sample above the report's peak or negative");
    }
    fuzz::Check(central::ValidateVaName(r.va()).ok() && central::ValidateTag(r.tag()).ok(),
                "accepted a report with an invalid VA or tag");
  }
  fuzz::Check(request.inventory().devices_total() >= 0, "accepted a negative device count");
  if (request.has_audit_head()) {
    const auto& head = request.audit_head();
    auto hash = crypto::HexDecode(head.hash());
    fuzz::Check(hash.ok() && hash->size() == 32, "accepted an audit head that is not a hash");
    fuzz::Check(head.key_id() == key.KeyId(), "accepted an audit head naming another key");
  }
}

struct Satellite {
  const char* id;
  const char* account;
};

// The bound satellite of `key`, if any.
std::optional<Satellite> BoundTo(const crypto::PublicKey& key) {
  if (key == w::AcmeSatelliteKey().public_key()) return Satellite{w::kAcmeSatellite, w::kAcme};
  if (key == w::EvilSatelliteKey().public_key()) return Satellite{w::kEvilSatellite, w::kEvil};
  return std::nullopt;
}

// Admits `bundle` as central would. `signer` is the key that signed it when the target signed
// it (null for the input as is).
void Admit(const sync::SignedBundle& bundle, const crypto::PrivateKey* signer) {
  World& world = TheWorld();
  const std::string bytes = sync::SerializeBundle(bundle);
  central::AdmissionContext context;
  context.central_key = &fuzz::TestKey().public_key();
  context.now = w::kNow;
  auto admitted = central::AdmitSyncRequest(*world.reader, bundle, crypto::Sha256(bytes), context);
  if (kVerbose) {
    std::fprintf(stderr, "%s: %s\n", signer == nullptr ? "as sent" : "re-signed",
                 admitted.ok() ? ("admitted as " + admitted->satellite_id).c_str()
                               : admitted.status().message().c_str());
  }
  if (!admitted.ok()) {
    const int http = HttpStatusFor(admitted.status().code());
    if (http < 400 || http >= 500) {
      std::fprintf(stderr, "refusal %d: %s\n", http, admitted.status().message().c_str());
    }
    fuzz::Check(http >= 400 && http < 500, "a refused sync request would be answered 5xx");
    const std::string& message = admitted.status().message();
    static const std::vector<std::string> kUndisclosed = {
        w::kAcme, w::kEvil, w::AcmeSatelliteKey().public_key().KeyId(),
        w::EvilSatelliteKey().public_key().KeyId()};
    for (const std::string& secret : kUndisclosed) {
      if (Contains(message, secret) && !Contains(bytes, secret)) {
        std::fprintf(stderr, "refusal: %s\n", message.c_str());
        fuzz::Check(false, "a refusal disclosed an account or key id the request did not carry");
      }
    }
    return;
  }
  const central::VerifiedRequest& v = *admitted;
  auto key = crypto::PublicKey::FromPem(v.key_pem);
  fuzz::Check(key.ok(), "admitted with an unreadable key");
  fuzz::Check(sync::OpenBundle(bundle, v1::BUNDLE_KIND_SYNC_REQUEST, *key).ok(),
              "admitted a request that does not verify with the key it was admitted with");
  const v1::SyncRequest& request = v.payload.sync_request();
  fuzz::Check(request.satellite_id() == v.satellite_id && request.account_id() == v.account_id,
              "admitted a request naming another satellite or account than it was admitted as");
  if (auto bound = BoundTo(*key)) {
    fuzz::Check(!v.first_contact && v.satellite_id == bound->id && v.account_id == bound->account,
                "a bound key was admitted as another satellite");
  } else {
    fuzz::Check(v.first_contact && v.satellite_id == w::kNewSatellite && v.account_id == w::kAcme,
                "a key bound to nobody was admitted other than as the unbound satellite");
  }
  if (signer != nullptr) {
    fuzz::Check(signer->public_key() == *key, "admitted with another key than the signer's");
  }
  CheckWithinLimits(request, *key);
  for (const v1::UsageReport& r : request.usage_reports()) {
    fuzz::Check(r.tag() == w::kTag, "admitted a report of a tag the account never had");
    fuzz::Check(r.va() == "default" || (v.account_id == w::kAcme && r.va() == w::kVa),
                "admitted a report of a VA the account does not have");
  }
  // The same bundle with one signature bit flipped is refused.
  sync::SignedBundle tampered = bundle;
  if (!tampered.signature().empty()) {
    tampered.mutable_signature()->back() ^= 1;
    fuzz::Check(!central::AdmitSyncRequest(*world.reader, tampered, "", context).ok(),
                "a sync request with a flipped signature bit was admitted");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto bundle = sync::DecodeBundle(body, "the sync request", kMaxRequestBytes);
  if (!bundle.ok()) return 0;
  Admit(*bundle, nullptr);

  auto payload = sync::ParseUnverifiedPayload(*bundle);
  if (!payload.ok() || !payload->has_sync_request()) return 0;
  const v1::SyncRequest& request = payload->sync_request();
  const crypto::PublicKey& acme = w::AcmeSatelliteKey().public_key();
  if (central::CheckRequestContents(request, w::kNow, acme).ok()) {
    CheckWithinLimits(request, acme);
  }
  // Re-signed by each satellite key, as a customer holding that key could send it.
  if (payload->kind() != v1::BUNDLE_KIND_SYNC_REQUEST) {
    payload->set_kind(v1::BUNDLE_KIND_SYNC_REQUEST);
  }
  for (const crypto::PrivateKey* key :
       {&w::AcmeSatelliteKey(), &w::EvilSatelliteKey(), &fuzz::OtherKey()}) {
    auto resigned = sync::SignBundle(*payload, *key);
    if (resigned.ok()) Admit(*resigned, key);
  }
  return 0;
}
