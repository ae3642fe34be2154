#include "sync/central/admission.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <algorithm>
#include <climits>
#include <optional>
#include <set>
#include <utility>

#include "common/time.h"
#include "sync/bundle/display.h"
#include "sync/bundle/trust.h"
#include "sync/central/request_checks.h"

namespace outpost::central {
namespace {

using sync::Printable;

struct SatelliteKeyRow {
  std::string id;
  std::string account_id;
  std::string public_key_pem;  // empty until bound
  std::string verifier;        // empty once bound
  int64_t revoked_at = 0;
  std::string revoked_reason;
};

constexpr char kColumns[] =
    "SELECT id, account_id, coalesce(public_key_pem, ''), coalesce(enrollment_verifier, x''), "
    "coalesce(revoked_at, 0), coalesce(revoked_reason, '') FROM satellites ";

Result<std::optional<SatelliteKeyRow>> LoadBy(sqlite::Connection& db, std::string_view where,
                                              std::string_view value) {
  OUTPOST_ASSIGN_OR_RETURN(auto stmt, db.Query(std::string(kColumns) + std::string(where), value));
  OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) return std::optional<SatelliteKeyRow>();
  SatelliteKeyRow s;
  s.id = stmt->ColumnText(0);
  s.account_id = stmt->ColumnText(1);
  s.public_key_pem = stmt->ColumnText(2);
  s.verifier = stmt->ColumnBlob(3);
  s.revoked_at = stmt->ColumnInt64(4);
  s.revoked_reason = stmt->ColumnText(5);
  return std::optional<SatelliteKeyRow>(std::move(s));
}

// What an unverified first-contact request claims: read with a wire-format scan that skips
// everything else (millions of usage reports are stepped over, not decoded), so a stranger's
// large request costs a scan while some satellite awaits its first contact.
struct FirstContactClaim {
  v1::BundleKind kind = v1::BUNDLE_KIND_UNSPECIFIED;
  bool has_sync_request = false;
  std::string satellite_id;
  std::string satellite_public_key_pem;
  std::string enrollment_proof;
};

Result<FirstContactClaim> PeekFirstContact(std::string_view payload) {
  namespace pio = google::protobuf::io;
  using google::protobuf::internal::WireFormatLite;
  const Status garbled =
      InvalidArgument("the payload of this bundle cannot be read (truncated or garbled)");
  constexpr size_t kMaxClaimedField = 64 << 10;  // an id or a PEM public key is far smaller
  pio::CodedInputStream in(reinterpret_cast<const uint8_t*>(payload.data()),
                           static_cast<int>(std::min<size_t>(payload.size(), INT_MAX)));
  FirstContactClaim out;
  const auto read_string = [&](std::string* to) {
    uint32_t length = 0;
    return in.ReadVarint32(&length) && length <= kMaxClaimedField &&
           in.ReadString(to, static_cast<int>(length));
  };
  while (uint32_t tag = in.ReadTag()) {
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    const auto wire = WireFormatLite::GetTagWireType(tag);
    if (field == sync::BundlePayload::kKindFieldNumber && wire == WireFormatLite::WIRETYPE_VARINT) {
      uint32_t kind = 0;
      if (!in.ReadVarint32(&kind)) return garbled;
      out.kind = static_cast<v1::BundleKind>(kind);
    } else if (field == sync::BundlePayload::kSyncRequestFieldNumber &&
               wire == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      int length = 0;
      if (!in.ReadVarintSizeAsInt(&length)) return garbled;
      const pio::CodedInputStream::Limit limit = in.PushLimit(length);
      out.has_sync_request = true;
      while (uint32_t inner = in.ReadTag()) {
        const int f = WireFormatLite::GetTagFieldNumber(inner);
        const bool string_field =
            WireFormatLite::GetTagWireType(inner) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
        if (string_field && f == v1::SyncRequest::kSatelliteIdFieldNumber) {
          if (!read_string(&out.satellite_id)) return garbled;
        } else if (string_field && f == v1::SyncRequest::kSatellitePublicKeyPemFieldNumber) {
          if (!read_string(&out.satellite_public_key_pem)) return garbled;
        } else if (string_field && f == v1::SyncRequest::kEnrollmentProofFieldNumber) {
          if (!read_string(&out.enrollment_proof)) return garbled;
        } else if (!WireFormatLite::SkipField(&in, inner)) {
          return garbled;
        }
      }
      if (!in.ConsumedEntireMessage()) return garbled;
      in.PopLimit(limit);
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      return garbled;
    }
  }
  if (!in.ConsumedEntireMessage()) return garbled;
  return out;
}

Status NotEnrolled(std::string_view satellite_id) {
  return NotFound("satellite " + Printable(satellite_id) +
                  " is not enrolled at this central; enrol it with `outpost central satellite "
                  "enroll` and install the new enrollment bundle on the satellite");
}

// The account's VAs and tags the usage reports name: a report for a VA the account does not
// have, or a tag it never had an entitlement for, cannot be true (a satellite records usage
// only of what it was granted).
Status CheckUsageAgainstAccount(sqlite::Connection& db, const v1::SyncRequest& request,
                                const std::string& account_id) {
  std::set<std::string> known_vas, known_tags;
  for (const v1::UsageReport& r : request.usage_reports()) {
    if (!known_vas.contains(r.va())) {
      OUTPOST_ASSIGN_OR_RETURN(
          int64_t found,
          db.QueryInt64("SELECT count(*) FROM virtual_accounts WHERE account_id = ? AND name = ?",
                        account_id, r.va()));
      if (found == 0) {
        return InvalidArgument("usage report '" + Printable(r.report_id()) +
                               "' names virtual account '" + Printable(r.va()) +
                               "', which the account does not have");
      }
      known_vas.insert(r.va());
    }
    if (!known_tags.contains(r.tag())) {
      OUTPOST_ASSIGN_OR_RETURN(
          int64_t found,
          db.QueryInt64("SELECT count(*) FROM (SELECT 1 FROM entitlements WHERE account_id = ? "
                        "AND tag = ? LIMIT 1)",
                        account_id, r.tag()));
      if (found == 0) {
        return InvalidArgument("usage report '" + Printable(r.report_id()) + "' names tag '" +
                               Printable(r.tag()) +
                               "', for which the account never had an entitlement");
      }
      known_tags.insert(r.tag());
    }
  }
  return Status::Ok();
}

}  // namespace

Status RevokedSatellite(std::string_view satellite_id, int64_t revoked_at,
                        std::string_view reason) {
  return PermissionDenied("satellite " + Printable(satellite_id) +
                          " was revoked by the vendor at " + FormatRfc3339Seconds(revoked_at) +
                          (reason.empty() ? "" : " (" + Printable(reason, 200) + ")") +
                          "; it can no longer sync. Ask the vendor for a new enrollment bundle "
                          "and initialise a new satellite with `outpost init --enroll FILE`");
}

Result<VerifiedRequest> AdmitSyncRequest(sqlite::Connection& db, const sync::SignedBundle& bundle,
                                         std::string request_sha256,
                                         const AdmissionContext& context) {
  VerifiedRequest out;
  out.request_sha256 = std::move(request_sha256);
  OUTPOST_ASSIGN_OR_RETURN(
      std::optional<SatelliteKeyRow> satellite,
      LoadBy(db, "WHERE key_id = ? AND public_key_pem IS NOT NULL", bundle.key_id()));
  if (satellite.has_value()) {
    // A bound satellite's key: verify before reading anything the request says.
    OUTPOST_ASSIGN_OR_RETURN(crypto::PublicKey key,
                             crypto::PublicKey::FromPem(satellite->public_key_pem));
    OUTPOST_ASSIGN_OR_RETURN(out.payload,
                             sync::OpenBundle(bundle, v1::BUNDLE_KIND_SYNC_REQUEST, key));
    if (out.payload.sync_request().satellite_id() != satellite->id) {
      return PermissionDenied(
          "this sync request is signed by another satellite's key than the one it names");
    }
    out.key_pem = satellite->public_key_pem;
  } else {
    // First contact (or a stranger): the payload names the satellite; only an enrolled one
    // without a bound key may introduce its key, with the enrollment proof. With no such
    // satellite, nothing of the request is parsed (a stranger's large request costs nothing).
    OUTPOST_ASSIGN_OR_RETURN(int64_t unbound,
                             db.QueryInt64("SELECT count(*) FROM satellites WHERE public_key_pem "
                                           "IS NULL"));
    if (unbound == 0) {
      return PermissionDenied(
          "this sync request is signed by a key that no satellite enrolled here is bound to; a "
          "satellite whose key changed must be enrolled again");
    }
    OUTPOST_ASSIGN_OR_RETURN(FirstContactClaim claimed, PeekFirstContact(bundle.payload()));
    if (claimed.kind != v1::BUNDLE_KIND_SYNC_REQUEST || !claimed.has_sync_request) {
      return InvalidArgument("this bundle is " + sync::KindDisplayName(claimed.kind) +
                             ", not a sync request; give central the file `outpost sync export` "
                             "wrote on the satellite");
    }
    const std::string& claimed_id = claimed.satellite_id;
    if (claimed_id.empty()) return InvalidArgument("this sync request names no satellite");
    OUTPOST_ASSIGN_OR_RETURN(satellite, LoadBy(db, "WHERE id = ?", claimed_id));
    if (!satellite.has_value()) return NotEnrolled(claimed_id);
    if (!satellite->public_key_pem.empty()) {
      return PermissionDenied("this sync request is not signed with the key bound to satellite " +
                              Printable(claimed_id) +
                              "; a satellite with a new key must be enrolled again");
    }
    auto key = crypto::PublicKey::FromPem(claimed.satellite_public_key_pem);
    if (!key.ok()) {
      return InvalidArgument(
          "the first sync request of satellite " + Printable(claimed_id) +
          " carries no readable satellite public key: " + key.status().message());
    }
    if (satellite->verifier.empty()) {
      return DataLoss("satellite " + satellite->id +
                      " has neither a key nor an enrollment verifier; enrol it again");
    }
    // The proof before the payload is parsed: a stranger who signs with a key of its own gets
    // no further than the scan above.
    OUTPOST_RETURN_IF_ERROR(sync::CheckEnrollmentProofWithVerifier(claimed.enrollment_proof,
                                                                   satellite->verifier, *key));
    OUTPOST_ASSIGN_OR_RETURN(out.payload,
                             sync::OpenBundle(bundle, v1::BUNDLE_KIND_SYNC_REQUEST, *key));
    // The same bytes, now verified; checked again on the parse, which is authoritative.
    OUTPOST_RETURN_IF_ERROR(sync::CheckEnrollmentProofWithVerifier(
        out.payload.sync_request().enrollment_proof(), satellite->verifier, *key));
    out.key_pem = key->ToPem();
    out.first_contact = true;
  }
  // Authenticated as this satellite from here on.
  const v1::SyncRequest& request = out.payload.sync_request();
  out.satellite_id = satellite->id;
  out.account_id = satellite->account_id;
  if (satellite->revoked_at != 0) {
    return RevokedSatellite(satellite->id, satellite->revoked_at, satellite->revoked_reason);
  }
  if (request.account_id() != satellite->account_id) {
    return PermissionDenied("this sync request names account '" + Printable(request.account_id()) +
                            "', which is not the account satellite " + satellite->id +
                            " is enrolled for");
  }
  if (!out.first_contact && !request.satellite_public_key_pem().empty()) {
    auto introduced = crypto::PublicKey::FromPem(request.satellite_public_key_pem());
    auto bound = crypto::PublicKey::FromPem(out.key_pem);
    if (!introduced.ok() || !bound.ok() || !(*introduced == *bound)) {
      return PermissionDenied(
          "this sync request introduces another satellite key than the one "
          "central bound to satellite " +
          satellite->id + "; a satellite with a new key must be enrolled again");
    }
  }
  const std::string central_key_id = context.central_key->KeyId();
  const bool names_next = context.next_central_key != nullptr &&
                          request.central_key_id() == context.next_central_key->KeyId();
  if (request.central_key_id() != central_key_id && !names_next && context.retired_keys) {
    if (auto retired = context.retired_keys->find(request.central_key_id());
        retired != context.retired_keys->end()) {
      return PermissionDenied(
          "this sync request trusts central key " + retired->first +
          ", which the vendor retired at " + FormatRfc3339Seconds(retired->second) +
          " after moving to key " + central_key_id +
          "; this satellite did not sync in time to learn the new key, so central can no longer "
          "answer it. Ask the vendor to enrol it again (`outpost central satellite revoke` and "
          "`reenroll`) and initialise the satellite with the new enrollment bundle "
          "(`outpost init --enroll FILE`)");
    }
  }
  if (request.central_key_id() != central_key_id && !names_next) {
    return PermissionDenied("this sync request trusts central key '" +
                            Printable(request.central_key_id()) + "' but this central signs with " +
                            central_key_id +
                            "; the satellite was enrolled with another central: enrol it here "
                            "again");
  }
  OUTPOST_ASSIGN_OR_RETURN(crypto::PublicKey key, crypto::PublicKey::FromPem(out.key_pem));
  OUTPOST_RETURN_IF_ERROR(CheckRequestContents(request, context.now, key));
  OUTPOST_RETURN_IF_ERROR(CheckUsageAgainstAccount(db, request, satellite->account_id));
  return out;
}

}  // namespace outpost::central
