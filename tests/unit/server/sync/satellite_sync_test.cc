// SatelliteSync::Create over a temporary database with the real migrations: construction is one
// step — what the last imported response left in satellite_meta (central's policy and list of
// virtual accounts) is applied to the licensing service before Create returns, and a stored
// policy that cannot be read fails Create without changing the service.

#include "server/sync/satellite_sync.h"

#include <gtest/gtest.h>

#include <chrono>

#include "common/crypto/encoding.h"
#include "outpost/v1/sync.pb.h"
#include "server/store/meta.h"
#include "tests/unit/server/licensing/service_test_fixture.h"

namespace outpost::server::sync {
namespace {

class SatelliteSyncTest : public licensing::service_testing::LicensingServiceTest {
 protected:
  Result<std::unique_ptr<SatelliteSync>> CreateSync() {
    return SatelliteSync::Create(DataDir(dir_.path()), *writer_, *readers_, operators(),
                                 *signing_key_, "sat-1", config::SyncConfig{}, "test");
  }
  void SetMeta(const std::string& key, const std::string& value) {
    ASSERT_OK(writer_->Run([&](sqlite::Connection& db) -> Status {
      return store::kSatelliteMeta.Set(db, key, value);
    }));
  }
};

TEST_F(SatelliteSyncTest, CreateAppliesTheStoredPolicyAndVirtualAccounts) {
  v1::Policy policy;
  policy.set_authorization_validity_s(7200);
  policy.set_authorization_renewal_s(3600);
  SetMeta("central_policy", crypto::HexEncode(policy.SerializeAsString()));
  SetMeta("virtual_accounts", "east\nnorth");
  EXPECT_EQ(operators().CheckVirtualAccount("north").code(), Errc::kNotFound);

  auto sync = CreateSync();
  ASSERT_OK(sync);
  EXPECT_EQ(operators().policy().validity, std::chrono::seconds(7200));
  EXPECT_EQ(operators().policy().renewal, std::chrono::seconds(3600));
  EXPECT_OK(operators().CheckVirtualAccount("north"));
  EXPECT_FALSE((*sync)->audit_alarm());
}

TEST_F(SatelliteSyncTest, UnreadableStoredPolicyFailsCreateAndChangesNothing) {
  const licensing::AuthorizationPolicy before = operators().policy();
  // A length-delimited field that claims 5 bytes and has 2: no protobuf parser accepts it.
  SetMeta("central_policy", crypto::HexEncode(std::string("\x0a\x05"
                                                          "ab",
                                                          4)));

  auto sync = CreateSync();
  ASSERT_FALSE(sync.ok());
  EXPECT_EQ(sync.status().code(), Errc::kDataLoss) << sync.status().ToString();
  EXPECT_EQ(operators().policy().validity, before.validity);
  EXPECT_EQ(operators().policy().renewal, before.renewal);
}

}  // namespace
}  // namespace outpost::server::sync
