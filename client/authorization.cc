#include "client/authorization.h"

#include "common/crypto/merkle.h"
#include "common/names.h"

namespace outpost::client {

Result<v1::Authorization> VerifyAuthorization(const v1::SignedAuthorization& signed_authorization,
                                              const ExpectedSigner& expected) {
  if (expected.signing_key == nullptr) return Internal("no signing key to verify against");
  // The algorithm and key id are checked before the signature so that the message says what
  // was swapped, not just "does not verify".
  const std::string& algorithm = signed_authorization.algorithm();
  const bool batch = algorithm == kAuthorizationBatchAlgorithm;
  if (!batch && algorithm != kAuthorizationAlgorithm) {
    // Every text taken from the answer is quoted through QuoteForMessage (bounded, escaped): a
    // hostile satellite must not fill a terminal or a log through an error message.
    return Unauthenticated("authorization is signed with algorithm " + QuoteForMessage(algorithm) +
                           ", expected '" + std::string(kAuthorizationBatchAlgorithm) + "' or '" +
                           std::string(kAuthorizationAlgorithm) + "'");
  }
  if (signed_authorization.key_id() != expected.key_id) {
    return Unauthenticated("authorization is signed by key " +
                           QuoteForMessage(signed_authorization.key_id()) +
                           ", not by the satellite key " + expected.key_id +
                           " pinned at registration; if the satellite's key changed, register "
                           "again");
  }
  if (signed_authorization.payload().size() > kMaxAuthorizationPayloadBytes) {
    return Unauthenticated(
        "authorization payload is " + std::to_string(signed_authorization.payload().size()) +
        " bytes; no answer is larger than " + std::to_string(kMaxAuthorizationPayloadBytes));
  }
  std::string_view domain = kAuthorizationDomain;
  std::string message = signed_authorization.payload();
  if (batch) {
    const uint64_t size = signed_authorization.batch_size();
    if (size == 0 || size > kMaxAuthorizationBatch || signed_authorization.batch_path_size() > 64) {
      return Unauthenticated("authorization's batch proof claims a batch of " +
                             std::to_string(size) + " answers and " +
                             std::to_string(signed_authorization.batch_path_size()) +
                             " hashes, which no satellite sends");
    }
    const std::vector<std::string> path(signed_authorization.batch_path().begin(),
                                        signed_authorization.batch_path().end());
    auto root = crypto::MerkleRootFromPath(crypto::MerkleLeafHash(signed_authorization.payload()),
                                           signed_authorization.batch_index(), size, path);
    if (!root.ok()) {
      return Unauthenticated("authorization's batch proof is malformed: " +
                             root.status().message());
    }
    domain = kAuthorizationBatchDomain;
    message = crypto::MerkleTreeHead(size, *root);
  }
  if (Status s = expected.signing_key->Verify(domain, message, signed_authorization.signature());
      !s.ok()) {
    return Unauthenticated("authorization signature does not verify under the satellite key " +
                           expected.key_id + " pinned at registration: " + s.message());
  }
  v1::Authorization authorization;
  if (!authorization.ParseFromString(signed_authorization.payload())) {
    return Unauthenticated("authorization payload is signed but is not an Authorization message");
  }
  if (authorization.satellite_id() != expected.satellite_id) {
    return Unauthenticated(
        "authorization is for satellite " + QuoteForMessage(authorization.satellite_id()) +
        ", but this device registered with satellite " + QuoteForMessage(expected.satellite_id));
  }
  if (authorization.instance_id() != expected.instance_id) {
    return Unauthenticated("authorization is for instance " +
                           QuoteForMessage(authorization.instance_id()) +
                           ", not for this device (" + QuoteForMessage(expected.instance_id) + ")");
  }
  return authorization;
}

namespace {

// At most the first few tags of a list, each quoted (bounded): for messages.
template <typename List, typename Name>
std::string TagList(const List& list, Name name) {
  constexpr int kShown = 8;
  std::string out;
  int n = 0;
  for (const auto& item : list) {
    if (n == kShown) {
      out += ", ... (" + std::to_string(list.size()) + " in all)";
      break;
    }
    out += (n++ == 0 ? "" : ", ") + QuoteForMessage(name(item));
  }
  return "[" + out + "]";
}

}  // namespace

Status CheckAnswersRequest(const v1::Authorization& authorization,
                           const std::vector<v1::TagUse>& request) {
  bool same = authorization.tags_size() == static_cast<int>(request.size());
  for (size_t i = 0; same && i < request.size(); ++i) {
    same = authorization.tags(static_cast<int>(i)).tag() == request[i].tag();
  }
  if (!same) {
    return Unauthenticated(
        "the satellite's authorization does not answer this request: asked for " +
        TagList(request, [](const v1::TagUse& u) -> const std::string& { return u.tag(); }) +
        ", answer covers " +
        TagList(authorization.tags(),
                [](const v1::TagAuthorization& t) -> const std::string& { return t.tag(); }));
  }
  for (size_t i = 0; i < request.size(); ++i) {
    const v1::TagAuthorization& tag = authorization.tags(static_cast<int>(i));
    const int64_t asked = request[i].count();
    if (tag.requested() != asked) {
      // Typically an older answer replayed: it answered another count of the same tags.
      return Unauthenticated(
          "the satellite's authorization does not answer this request: it is "
          "for " +
          std::to_string(tag.requested()) + " of tag " + QuoteForMessage(tag.tag()) + ", but " +
          std::to_string(asked) + " were asked");
    }
    if (tag.granted() < 0 || tag.granted() > asked) {
      return Unauthenticated("the satellite's authorization grants " +
                             std::to_string(tag.granted()) + " of tag " +
                             QuoteForMessage(tag.tag()) + " for a request of " +
                             std::to_string(asked) + "; no satellite grants that");
    }
  }
  return Status::Ok();
}

Status CheckCurrent(const v1::Authorization& authorization,
                    const std::optional<v1::Authorization>& previous, TimePoint now,
                    std::chrono::seconds skew) {
  // In seconds: the answer's times are whatever a satellite sent, so nothing here converts
  // them to a TimePoint (which cannot hold every int64 of seconds).
  const int64_t now_s = ToUnixSeconds(now);
  const int64_t skew_s = skew.count();
  const int64_t issued = authorization.issued_at();
  const int64_t until = authorization.valid_until();
  const std::string clock_hint = "; if this device's clock is wrong (it reads " +
                                 std::to_string(now_s) +
                                 " in unix seconds), set it right and authorize again";
  if (issued > now_s + skew_s) {
    return Unauthenticated("the satellite's authorization is issued at " + std::to_string(issued) +
                           " (unix seconds), in the future by more than the allowed clock skew "
                           "of " +
                           std::to_string(skew_s) + " s" + clock_hint);
  }
  if (until < now_s - skew_s) {
    return Unauthenticated("the satellite's authorization was valid until " +
                           std::to_string(until) +
                           " (unix seconds), already past by more than the allowed clock skew "
                           "of " +
                           std::to_string(skew_s) + " s" + clock_hint);
  }
  if (until < issued) {
    return Unauthenticated("the satellite's authorization is valid until " + std::to_string(until) +
                           ", before it was issued (" + std::to_string(issued) + ")");
  }
  if (previous && previous->issued_at() <= now_s + skew_s && issued < previous->issued_at()) {
    return Unauthenticated(
        "the satellite's authorization was issued at " + std::to_string(issued) +
        " (unix seconds), before the one this device already holds (" +
        std::to_string(previous->issued_at()) +
        "): an older answer is not taken in place of a newer one; authorize again");
  }
  return Status::Ok();
}

v1::SignedAuthorization CanonicalSignedForm(const v1::SignedAuthorization& signed_authorization) {
  v1::SignedAuthorization out;
  out.set_payload(signed_authorization.payload());
  out.set_key_id(signed_authorization.key_id());
  out.set_algorithm(signed_authorization.algorithm());
  out.set_signature(signed_authorization.signature());
  // The proof only where the algorithm uses it: under "ed25519" it is not covered by anything.
  if (signed_authorization.algorithm() == kAuthorizationBatchAlgorithm) {
    out.set_batch_index(signed_authorization.batch_index());
    out.set_batch_size(signed_authorization.batch_size());
    for (const auto& hash : signed_authorization.batch_path()) out.add_batch_path(hash);
  }
  return out;
}

}  // namespace outpost::client
