#include "sync/bundle/codec.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/wire_format_lite.h>

#include <algorithm>
#include <climits>
#include <optional>
#include <utility>

#include "sync/bundle/display.h"
#include "sync/bundle/trust.h"

namespace outpost::sync {
namespace {

// The envelope around a payload: four tags, three short strings and a signature (an ECDSA
// DER signature is at most 72 bytes). Generous, so that SignBundle refuses early rather than
// producing a bundle that ParseBundleBytes would refuse.
constexpr size_t kEnvelopeOverhead = 1024;

std::string SerializeDeterministic(const google::protobuf::Message& message) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return out;
}

BundleKind KindOfBody(const BundlePayload& payload) {
  switch (payload.body_case()) {
    case BundlePayload::kEnrollment:
      return v1::BUNDLE_KIND_ENROLLMENT;
    case BundlePayload::kSyncRequest:
      return v1::BUNDLE_KIND_SYNC_REQUEST;
    case BundlePayload::kSyncResponse:
      return v1::BUNDLE_KIND_SYNC_RESPONSE;
    case BundlePayload::BODY_NOT_SET:
      break;
  }
  return v1::BUNDLE_KIND_UNSPECIFIED;
}

// "a sync request", "an enrollment bundle".
std::string WithArticle(BundleKind kind) {
  const std::string name = KindDisplayName(kind);
  return (name.front() == 'e' || name.front() == 'u' ? "an " : "a ") + name;
}

Status CheckKindMatchesBody(const BundlePayload& payload) {
  if (DomainFor(payload.kind()).empty()) {
    return InvalidArgument("the bundle payload has no known kind (" +
                           KindDisplayName(payload.kind()) + ")");
  }
  if (KindOfBody(payload) != payload.kind()) {
    return InvalidArgument("the bundle payload says it is " + WithArticle(payload.kind()) +
                           " but carries " +
                           (payload.body_case() == BundlePayload::BODY_NOT_SET
                                ? std::string("no body")
                                : "the body of " + WithArticle(KindOfBody(payload))));
  }
  return Status::Ok();
}

// Says who is expected to have signed a bundle of `kind`, for the wrong-key message.
std::string TrustedKeyPhrase(BundleKind kind, const std::string& key_id) {
  if (kind == v1::BUNDLE_KIND_SYNC_REQUEST) {
    return "central has satellite key " + key_id +
           " on record for this satellite; a satellite with a new key must be enrolled again";
  }
  return "this satellite trusts central key " + key_id +
         "; central's key changes only through a key rotation announced in a response signed by "
         "the old key, or by enrolling the satellite again";
}

Status WrongKind(BundleKind actual, BundleKind expected) {
  return InvalidArgument("this bundle is " + WithArticle(actual) + ", but " +
                         WithArticle(expected) +
                         " is expected here; check that it is the right "
                         "file");
}

}  // namespace

std::string_view DomainFor(BundleKind kind) {
  switch (kind) {
    case v1::BUNDLE_KIND_ENROLLMENT:
      return kEnrollmentDomain;
    case v1::BUNDLE_KIND_SYNC_REQUEST:
      return kSyncRequestDomain;
    case v1::BUNDLE_KIND_SYNC_RESPONSE:
      return kSyncResponseDomain;
    default:
      return "";
  }
}

std::string KindDisplayName(BundleKind kind) {
  switch (kind) {
    case v1::BUNDLE_KIND_ENROLLMENT:
      return "enrollment bundle";
    case v1::BUNDLE_KIND_SYNC_REQUEST:
      return "sync request";
    case v1::BUNDLE_KIND_SYNC_RESPONSE:
      return "sync response";
    default:
      return "unknown bundle kind " + std::to_string(static_cast<int>(kind));
  }
}

std::string SerializeBundle(const SignedBundle& bundle) { return SerializeDeterministic(bundle); }

Result<SignedBundle> SignBundle(const BundlePayload& payload, const crypto::PrivateKey& key) {
  OUTPOST_RETURN_IF_ERROR(CheckKindMatchesBody(payload));
  if (payload.format_version() != 0 && payload.format_version() != kBundleFormatVersion) {
    return InvalidArgument("cannot sign a bundle of format version " +
                           std::to_string(payload.format_version()) +
                           "; this outpost writes version " + std::to_string(kBundleFormatVersion));
  }
  BundlePayload versioned = payload;
  versioned.set_format_version(kBundleFormatVersion);
  std::string bytes = SerializeDeterministic(versioned);
  if (bytes.size() > kMaxBundleBytes - kEnvelopeOverhead) {
    return Status(Errc::kPayloadTooLarge, "the " + KindDisplayName(payload.kind()) + " would be " +
                                              std::to_string(bytes.size()) +
                                              " bytes, more than the bundle limit of " +
                                              std::to_string(kMaxBundleBytes) + " bytes");
  }
  OUTPOST_ASSIGN_OR_RETURN(std::string signature, key.Sign(DomainFor(payload.kind()), bytes));
  SignedBundle bundle;
  bundle.set_payload(std::move(bytes));
  bundle.set_key_id(key.public_key().KeyId());
  bundle.set_algorithm(std::string(crypto::AlgorithmName(key.algorithm())));
  bundle.set_signature(std::move(signature));
  return bundle;
}

Result<SignedBundle> ParseBundleBytes(std::string_view bytes, std::string_view source,
                                      size_t max_bytes) {
  if (bytes.size() > max_bytes) {
    return Status(Errc::kPayloadTooLarge,
                  std::string(source) + " is " + std::to_string(bytes.size()) +
                      " bytes, more than the bundle limit of " + std::to_string(max_bytes) +
                      " bytes; is it the right file?");
  }
  if (bytes.empty()) {
    return InvalidArgument(std::string(source) + " is empty, not an Outpost bundle");
  }
  const auto garbled = [&](std::string_view detail) {
    return InvalidArgument(
        std::string(source) +
        " is not an Outpost bundle (truncated or garbled: " + std::string(detail) + ")");
  };
  SignedBundle bundle;
  if (bytes.size() > static_cast<size_t>(INT_MAX) ||
      !bundle.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return garbled("not a signed bundle envelope");
  }
  // The envelope is fixed: extensions belong in the payload, under its format version. An
  // unknown field here means the bytes are something else that happened to parse.
  if (!bundle.GetReflection()->GetUnknownFields(bundle).empty()) {
    return garbled("unexpected fields in the envelope");
  }
  if (bundle.payload().empty()) return garbled("no payload");
  if (bundle.key_id().empty()) return garbled("no key id");
  if (bundle.algorithm().empty()) return garbled("no signature algorithm");
  if (bundle.signature().empty()) return garbled("no signature");
  return bundle;
}

Result<BundlePayload> ParseUnverifiedPayload(const SignedBundle& bundle) {
  BundlePayload payload;
  if (bundle.payload().empty() || !payload.ParseFromString(bundle.payload())) {
    return InvalidArgument("the payload of this bundle cannot be read (truncated or garbled)");
  }
  return payload;
}

namespace {

// The `kind` a payload claims, read without parsing the rest of it: a large body (a sync
// request with millions of usage reports) is skipped over, not decoded, so explaining a
// refusal costs nothing however large an unsigned payload is. nullopt if there is none.
std::optional<BundleKind> PeekUnverifiedKind(std::string_view payload) {
  namespace pio = google::protobuf::io;
  using google::protobuf::internal::WireFormatLite;
  pio::CodedInputStream in(reinterpret_cast<const uint8_t*>(payload.data()),
                           static_cast<int>(std::min<size_t>(payload.size(), INT_MAX)));
  std::optional<BundleKind> kind;
  while (uint32_t tag = in.ReadTag()) {
    if (WireFormatLite::GetTagFieldNumber(tag) == BundlePayload::kKindFieldNumber &&
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_VARINT) {
      uint32_t value = 0;
      if (!in.ReadVarint32(&value)) return std::nullopt;
      kind = static_cast<BundleKind>(value);  // the last one wins, as in a parse
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      return std::nullopt;
    }
  }
  return kind;
}

}  // namespace

Result<BundlePayload> OpenBundle(const SignedBundle& bundle, BundleKind expected_kind,
                                 const crypto::PublicKey& trusted) {
  const std::string_view domain = DomainFor(expected_kind);
  if (domain.empty()) {
    return InvalidArgument("cannot open a bundle of " + KindDisplayName(expected_kind));
  }
  const std::string expected_name = KindDisplayName(expected_kind);
  // What the unverified payload claims is used only to explain a refusal: a request offered
  // where a response is expected would fail the key or signature check below anyway, but
  // "this is a sync request" tells the operator what actually went wrong. Only its kind is read
  // before the signature verified (issue 17: parsing a 15 MiB junk request took seconds).
  const std::optional<BundleKind> claimed_kind = PeekUnverifiedKind(bundle.payload());
  if (claimed_kind && *claimed_kind != expected_kind && !DomainFor(*claimed_kind).empty()) {
    return WrongKind(*claimed_kind, expected_kind);
  }

  const std::string trusted_id = trusted.KeyId();
  const std::string_view trusted_algorithm = crypto::AlgorithmName(trusted.algorithm());
  auto algorithm = crypto::ParseKeyAlgorithm(bundle.algorithm());
  if (!algorithm.ok()) {
    return InvalidArgument("this " + expected_name + " names an unknown signature algorithm '" +
                           Printable(bundle.algorithm()) + "' (" + algorithm.status().message() +
                           ")");
  }
  if (*algorithm != trusted.algorithm()) {
    return PermissionDenied(
        "this " + expected_name + " was signed with " +
        std::string(crypto::AlgorithmName(*algorithm)) + " by key " + Printable(bundle.key_id()) +
        ", but " +
        TrustedKeyPhrase(expected_kind, trusted_id + " (" + std::string(trusted_algorithm) + ")"));
  }
  if (bundle.key_id() != trusted_id) {
    return PermissionDenied("this " + expected_name + " was signed by key " +
                            Printable(bundle.key_id()) + " but " +
                            TrustedKeyPhrase(expected_kind, trusted_id));
  }
  if (!trusted.Verify(domain, bundle.payload(), bundle.signature()).ok()) {
    return InvalidArgument("the signature of this " + expected_name + " does not verify with key " +
                           trusted_id +
                           ": it was altered or damaged after it was signed; get a fresh copy");
  }

  // From here on the payload is authentic, so anything wrong with it is the signer's doing.
  Result<BundlePayload> claimed = ParseUnverifiedPayload(bundle);
  if (!claimed.ok()) {
    return InvalidArgument("this " + expected_name +
                           " is correctly signed but its payload cannot be read; it was "
                           "probably made by a newer outpost: upgrade");
  }
  BundlePayload payload = std::move(claimed).value();
  if (payload.format_version() == 0) {
    return InvalidArgument("this " + expected_name + " has no format version");
  }
  if (payload.format_version() > kBundleFormatVersion) {
    return FailedPrecondition("this " + expected_name + " has format version " +
                              std::to_string(payload.format_version()) +
                              ": it was made by a newer outpost (this one reads up to version " +
                              std::to_string(kBundleFormatVersion) + "); upgrade outpost");
  }
  if (payload.kind() != expected_kind) {
    return InvalidArgument("this bundle is signed as " + WithArticle(expected_kind) +
                           " but its payload says it is " + WithArticle(payload.kind()));
  }
  OUTPOST_RETURN_IF_ERROR(CheckKindMatchesBody(payload));
  return payload;
}

Result<OpenedEnrollment> OpenEnrollmentBundle(const SignedBundle& bundle) {
  OUTPOST_ASSIGN_OR_RETURN(BundlePayload claimed, ParseUnverifiedPayload(bundle));
  if (claimed.kind() != v1::BUNDLE_KIND_ENROLLMENT) {
    return WrongKind(claimed.kind(), v1::BUNDLE_KIND_ENROLLMENT);
  }
  const v1::EnrollmentBundle& enrollment = claimed.enrollment();
  auto key = crypto::PublicKey::FromPem(enrollment.central_public_key_pem());
  if (!key.ok()) {
    return InvalidArgument("the central public key in this enrollment bundle cannot be read: " +
                           key.status().message());
  }
  if (enrollment.central_key_id() != key->KeyId()) {
    return InvalidArgument("this enrollment bundle says central's key id is " +
                           Printable(enrollment.central_key_id()) +
                           " but the key it carries has id " + key->KeyId() + " (garbled)");
  }
  OUTPOST_ASSIGN_OR_RETURN(BundlePayload payload,
                           OpenBundle(bundle, v1::BUNDLE_KIND_ENROLLMENT, *key));
  const v1::EnrollmentBundle& verified = payload.enrollment();
  if (verified.satellite_id().empty() || verified.account_id().empty()) {
    return InvalidArgument("this enrollment bundle names no satellite or no account");
  }
  if (verified.enrollment_secret().size() != kEnrollmentSecretSize) {
    return InvalidArgument("the enrollment secret in this bundle is " +
                           std::to_string(verified.enrollment_secret().size()) + " bytes, not " +
                           std::to_string(kEnrollmentSecretSize));
  }
  return OpenedEnrollment{std::move(payload), std::move(key).value()};
}

}  // namespace outpost::sync
