#include "sync/bundle/inspect.h"

#include <utility>

#include "common/proto_json.h"
#include "common/time.h"
#include "sync/bundle/codec.h"
#include "sync/bundle/display.h"

namespace outpost::sync {
namespace {

std::string ShortKind(BundleKind kind) {
  switch (kind) {
    case v1::BUNDLE_KIND_ENROLLMENT:
      return "enrollment";
    case v1::BUNDLE_KIND_SYNC_REQUEST:
      return "sync request";
    case v1::BUNDLE_KIND_SYNC_RESPONSE:
      return "sync response";
    default:
      return "unknown";
  }
}

class Lines {
 public:
  void Add(std::string_view label, std::string_view value) {
    out_.append("  ").append(label).push_back(':');
    out_.append(label.size() + 1 < kWidth ? kWidth - label.size() - 1 : 1, ' ');
    out_.append(value).push_back('\n');
  }
  void Add(std::string_view label, int64_t value) { Add(label, std::to_string(value)); }
  void AddTime(std::string_view label, int64_t unix_seconds) {
    Add(label, unix_seconds == 0 ? std::string("-") : FormatRfc3339Seconds(unix_seconds));
  }
  void Raw(std::string_view text) { out_.append(text); }
  std::string Take() { return std::move(out_); }

 private:
  static constexpr size_t kWidth = 22;  // label, colon and padding: values line up
  std::string out_;
};

std::string Count(int64_t n, std::string_view singular, std::string_view plural) {
  return std::to_string(n) + " " + std::string(n == 1 ? singular : plural);
}

void DescribeEnrollment(const v1::EnrollmentBundle& e, Lines& lines) {
  lines.Add("satellite", Printable(e.satellite_id()));
  lines.Add("account", Printable(e.account_id()) + " (" + Printable(e.account_name()) + ")");
  lines.Add("central key", Printable(e.central_key_id()));
  if (auto key = crypto::PublicKey::FromPem(e.central_public_key_pem()); key.ok()) {
    lines.Add("central fingerprint", key->Fingerprint());
  } else {
    lines.Add("central fingerprint", "(the key cannot be read)");
  }
  lines.Add("central URL",
            e.central_url().empty() ? "(none: offline only)" : Printable(e.central_url(), 200));
  lines.Add("central CA", e.central_ca_certificate_pem().empty() ? "none" : "present");
  lines.AddTime("issued at", e.issued_at());
  lines.Add("enrollment secret", e.enrollment_secret().empty()
                                     ? std::string("missing")
                                     : "present (" + std::to_string(e.enrollment_secret().size()) +
                                           " bytes, not shown)");
}

void DescribeRequest(const v1::SyncRequest& r, Lines& lines) {
  lines.Add("satellite", Printable(r.satellite_id()));
  lines.Add("account", Printable(r.account_id()));
  lines.Add("sequence", r.sequence());
  lines.AddTime("created at", r.created_at());
  if (auto key = crypto::PublicKey::FromPem(r.satellite_public_key_pem()); key.ok()) {
    lines.Add("satellite key", key->KeyId());
  } else {
    lines.Add("satellite key", "(cannot be read)");
  }
  lines.Add("enrollment proof", r.enrollment_proof().empty() ? "no" : "yes");
  lines.Add("trusts central key", Printable(r.central_key_id()));
  lines.Add("usage reports", r.usage_reports_size());
  lines.Add("devices", Count(r.inventory().devices_total(), "device", "devices") + " in " +
                           Count(r.inventory().virtual_accounts_size(), "virtual account",
                                 "virtual accounts"));
  lines.Add("license moves", r.moves_size());
  lines.Add("conversions", r.conversions_size());
  const v1::AuditCheckpoint& head = r.audit_head();
  lines.Add("audit head", head.seq() == 0 ? std::string("none")
                                          : "record " + std::to_string(head.seq()) + ", hash " +
                                                Printable(head.hash(), 16));
  if (!r.software_version().empty()) lines.Add("software", Printable(r.software_version()));
}

void DescribeResponse(const v1::SyncResponse& r, Lines& lines) {
  lines.Add("satellite", Printable(r.satellite_id()));
  lines.Add("account",
            Printable(r.account_id()) +
                (r.account_name().empty() ? "" : " (" + Printable(r.account_name()) + ")"));
  lines.Add("response number", r.response_number());
  lines.Add("answers request", r.answers_request_sequence());
  lines.AddTime("issued at", r.issued_at());
  lines.AddTime("valid until", r.valid_until());
  lines.Add("entitlements", r.entitlements_size());
  lines.Add("virtual accounts", r.virtual_accounts_size());
  lines.Add("acknowledged reports", r.acknowledged_report_ids_size());
  lines.Add("move results", r.move_results_size());
  lines.Add("conversion results", r.conversion_results_size());
  if (r.has_key_rotation()) {
    lines.Add("key rotation", "to central key " + Printable(r.key_rotation().new_key_id()) +
                                  ", effective " +
                                  FormatRfc3339Seconds(r.key_rotation().effective_from()));
  }
}

}  // namespace

v1::BundleInspection InspectBundle(const SignedBundle& bundle,
                                   const crypto::PublicKey* key_or_null) {
  v1::BundleInspection out;
  out.set_key_id(bundle.key_id());
  out.set_algorithm(bundle.algorithm());
  out.set_signature(bundle.signature());
  out.set_payload_bytes(static_cast<int64_t>(bundle.payload().size()));
  auto payload = ParseUnverifiedPayload(bundle);
  const BundleKind kind = payload.ok() ? payload->kind() : v1::BUNDLE_KIND_UNSPECIFIED;
  out.set_kind(ShortKind(kind));

  if (DomainFor(kind).empty()) {
    out.set_signature_status("not_checked");
    out.set_signature_detail(payload.ok() ? "the payload is of an unknown kind"
                                          : "the payload cannot be read");
  } else if (key_or_null != nullptr) {
    if (auto opened = OpenBundle(bundle, kind, *key_or_null); opened.ok()) {
      out.set_signature_status("verified");
      out.set_signature_detail("with key " + key_or_null->KeyId());
    } else {
      // Said in terms of the key the user gave, not of what a satellite would pin.
      out.set_signature_status("not_verified");
      const std::string given = key_or_null->KeyId();
      out.set_signature_detail(
          "the signature does not verify with this key (key id " + given +
          (bundle.key_id() == given
               ? "): the bundle was altered or damaged after it was signed; get a fresh copy"
               : "): the bundle was signed by key " + Printable(bundle.key_id()) +
                     "; check it with the signer's public key (central's: `outpost central key "
                     "-o FILE`; a satellite's: its keys/signing.key)"));
    }
  } else if (kind == v1::BUNDLE_KIND_ENROLLMENT) {
    if (auto opened = OpenEnrollmentBundle(bundle); opened.ok()) {
      out.set_signature_status("verified_with_embedded_key");
      out.set_signature_detail("with the central key it carries, fingerprint " +
                               opened->central_key.Fingerprint() +
                               "; compare it with central's before trusting it");
    } else {
      out.set_signature_status("not_verified");
      out.set_signature_detail(opened.status().message());
    }
  } else {
    out.set_signature_status("not_checked");
    out.set_signature_detail("no key to check it with");
  }

  if (payload.ok()) {
    v1::BundlePayload* shown = out.mutable_payload();
    *shown = std::move(payload).value();
    if (shown->has_enrollment()) shown->mutable_enrollment()->clear_enrollment_secret();
  }
  return out;
}

std::string DescribeBundle(const SignedBundle& bundle, const crypto::PublicKey* key_or_null) {
  const v1::BundleInspection inspection = InspectBundle(bundle, key_or_null);
  // The secret is cleared from the inspection; its size comes from the original.
  auto payload = ParseUnverifiedPayload(bundle);

  Lines lines;
  lines.Raw("Outpost bundle: " + inspection.kind() + "\n");
  lines.Add("format version", payload.ok() ? std::to_string(payload->format_version()) : "?");
  lines.Add("signed by key",
            Printable(bundle.key_id()) + " (" + Printable(bundle.algorithm()) + ")");
  const std::string& status = inspection.signature_status();
  std::string signature;
  if (status == "verified" || status == "verified_with_embedded_key") {
    signature = "verified " + inspection.signature_detail();
  } else if (status == "not_verified") {
    signature = "NOT VERIFIED: " + inspection.signature_detail();
  } else {
    signature = "not checked (" + inspection.signature_detail() + ")";
  }
  lines.Add("signature", signature);
  lines.Add("payload", Count(inspection.payload_bytes(), "byte", "bytes"));
  if (!payload.ok()) {
    lines.Add("contents", "cannot be read (truncated or garbled)");
  } else if (payload->has_enrollment()) {
    DescribeEnrollment(payload->enrollment(), lines);
  } else if (payload->has_sync_request()) {
    DescribeRequest(payload->sync_request(), lines);
  } else if (payload->has_sync_response()) {
    DescribeResponse(payload->sync_response(), lines);
  } else {
    lines.Add("contents", "none");
  }
  return lines.Take();
}

Result<std::string> BundleToJson(const SignedBundle& bundle, const crypto::PublicKey* key_or_null,
                                 bool pretty) {
  OUTPOST_RETURN_IF_ERROR(ParseUnverifiedPayload(bundle));
  return ToJson(InspectBundle(bundle, key_or_null), pretty);
}

}  // namespace outpost::sync
