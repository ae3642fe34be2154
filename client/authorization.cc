#include "client/authorization.h"

#include "common/crypto/merkle.h"

namespace outpost::client {

Result<v1::Authorization> VerifyAuthorization(const v1::SignedAuthorization& signed_authorization,
                                              const ExpectedSigner& expected) {
  if (expected.signing_key == nullptr) return Internal("no signing key to verify against");
  // The algorithm and key id are checked before the signature so that the message says what
  // was swapped, not just "does not verify".
  const std::string& algorithm = signed_authorization.algorithm();
  const bool batch = algorithm == kAuthorizationBatchAlgorithm;
  if (!batch && algorithm != kAuthorizationAlgorithm) {
    return Unauthenticated("authorization is signed with algorithm '" + algorithm +
                           "', expected '" + std::string(kAuthorizationBatchAlgorithm) + "' or '" +
                           std::string(kAuthorizationAlgorithm) + "'");
  }
  if (signed_authorization.key_id() != expected.key_id) {
    return Unauthenticated("authorization is signed by key " + signed_authorization.key_id() +
                           ", not by the satellite key " + expected.key_id +
                           " pinned at registration; if the satellite's key changed, register "
                           "again");
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
    return Unauthenticated("authorization is for satellite '" + authorization.satellite_id() +
                           "', but this device registered with satellite '" +
                           expected.satellite_id + "'");
  }
  if (authorization.instance_id() != expected.instance_id) {
    return Unauthenticated("authorization is for instance '" + authorization.instance_id() +
                           "', not for this device ('" + expected.instance_id + "')");
  }
  return authorization;
}

Status CheckAnswersRequest(const v1::Authorization& authorization,
                           const std::vector<v1::TagUse>& request) {
  bool same = authorization.tags_size() == static_cast<int>(request.size());
  for (size_t i = 0; same && i < request.size(); ++i) {
    same = authorization.tags(static_cast<int>(i)).tag() == request[i].tag();
  }
  if (same) return Status::Ok();
  std::string asked;
  for (const auto& use : request) asked += (asked.empty() ? "" : ", ") + use.tag();
  std::string answered;
  for (const auto& tag : authorization.tags()) {
    answered += (answered.empty() ? "" : ", ") + tag.tag();
  }
  return Unauthenticated("the satellite's authorization does not answer this request: asked for [" +
                         asked + "], answer covers [" + answered + "]");
}

}  // namespace outpost::client
