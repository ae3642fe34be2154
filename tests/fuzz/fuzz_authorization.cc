// A satellite's authorization answer as the device library reads it (the authorize response body
// and the state directory's authorization.pb, client/device_state.h): a serialized
// SignedAuthorization verified against the fixed test key (client::VerifyAuthorization). Fuzzed
// signatures fail; so the input is also re-signed with the test key, in the single form or over
// the Merkle root its own batch path leads to, so the checks after the signature run too.
// Property: what verifies names the expected satellite and instance.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "client/authorization.h"
#include "common/crypto/merkle.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using namespace outpost;

void Verify(const v1::SignedAuthorization& signed_authorization,
            const client::ExpectedSigner& expected) {
  auto authorization = client::VerifyAuthorization(signed_authorization, expected);
  if (!authorization.ok()) return;
  fuzz::Check(authorization->satellite_id() == expected.satellite_id &&
                  authorization->instance_id() == expected.instance_id,
              "verified an authorization for someone else");
  std::vector<v1::TagUse> request;
  for (const auto& tag : authorization->tags()) {
    v1::TagUse use;
    use.set_tag(tag.tag());
    use.set_count(1);
    request.push_back(use);
  }
  (void)client::CheckAnswersRequest(*authorization, request);
  request.emplace_back();
  (void)client::CheckAnswersRequest(*authorization, request);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  v1::SignedAuthorization signed_authorization;
  if (!signed_authorization.ParseFromArray(data, static_cast<int>(size))) return 0;
  const crypto::PublicKey& key = fuzz::TestKey().public_key();
  client::ExpectedSigner expected;
  expected.signing_key = &key;
  expected.key_id = key.KeyId();
  expected.satellite_id = "sat-1";
  expected.instance_id = "dev-1";
  Verify(signed_authorization, expected);

  // Re-signed with the pinned key.
  v1::SignedAuthorization resigned = signed_authorization;
  resigned.set_key_id(key.KeyId());
  if (resigned.algorithm() == kAuthorizationBatchAlgorithm) {
    std::vector<std::string> path(resigned.batch_path().begin(), resigned.batch_path().end());
    auto root = crypto::MerkleRootFromPath(crypto::MerkleLeafHash(resigned.payload()),
                                           resigned.batch_index(), resigned.batch_size(), path);
    if (!root.ok()) return 0;
    auto sig = fuzz::TestKey().Sign(kAuthorizationBatchDomain,
                                    crypto::MerkleTreeHead(resigned.batch_size(), *root));
    fuzz::Check(sig.ok(), "sign batch");
    resigned.set_signature(*sig);
  } else {
    auto sig = fuzz::TestKey().Sign(kAuthorizationDomain, resigned.payload());
    fuzz::Check(sig.ok(), "sign");
    resigned.set_signature(*sig);
  }
  Verify(resigned, expected);
  return 0;
}
