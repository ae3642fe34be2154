#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "common/time.h"
#include "server/licensing/core/pools.h"
#include "tests/unit/server/licensing/core/licensing_test_util.h"

namespace outpost::server::licensing {
namespace {

constexpr std::string_view kFw = "regid.2026-01.com.example.fw.base";
constexpr std::string_view kVpn = "regid.2026-01.com.example.vpn";

class AuthorizeTest : public ::testing::Test {
 protected:
  void Entitle(std::vector<Entitlement> entitlements) {
    ASSERT_OK(book_.ReplaceEntitlements(std::move(entitlements)));
  }
  Entitlement Ent(std::string id, std::string tag, int64_t quantity,
                  Enforcement enforcement = Enforcement::kReported, std::string va = "default") {
    return MakeEntitlement(std::move(id), std::move(va), std::move(tag), quantity, clock_.Now(),
                           enforcement);
  }
  AuthorizationDecision Auth(const DeviceRef& device, std::vector<TagRequest> requests) {
    Result<AuthorizationDecision> r = book_.Authorize(device, requests, clock_.Now());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : AuthorizationDecision{};
  }
  int64_t Used(std::string_view tag, std::string_view va = "default") {
    return InUse(book_, clock_.Now(), va, tag);
  }

  testing::FakeClock clock_;
  PoolBook book_;
};

TEST_F(AuthorizeTest, ReportedPoolWithinPurchasedIsAuthorized) {
  Entitle({Ent("e1", std::string(kFw), 5)});
  const AuthorizationDecision d = Auth(MakeDevice("a"), {{std::string(kFw), 3}});
  ASSERT_EQ(d.tags.size(), 1u);
  EXPECT_EQ(d.tags[0].status, TagStatus::kAuthorized);
  EXPECT_EQ(d.tags[0].granted, 3);
  EXPECT_EQ(d.instance_id, "a");
  EXPECT_EQ(d.issued_at, clock_.Now());
  EXPECT_EQ(Used(kFw), 3);
}

TEST_F(AuthorizeTest, ReportedPoolBeyondPurchasedIsRecordedOutOfCompliance) {
  Entitle({Ent("e1", std::string(kFw), 2)});
  EXPECT_EQ(TagOf(Auth(MakeDevice("a"), {{std::string(kFw), 2}}), kFw).status,
            TagStatus::kAuthorized);
  const TagDecision b = TagOf(Auth(MakeDevice("b"), {{std::string(kFw), 3}}), kFw);
  EXPECT_EQ(b.status, TagStatus::kOutOfCompliance);
  EXPECT_EQ(b.granted, 3);
  ASSERT_TRUE(b.valid_until.has_value());
  EXPECT_NE(b.reason.find("0 units available"), std::string::npos) << b.reason;
  EXPECT_NE(b.reason.find("2 in use by other devices"), std::string::npos) << b.reason;
  EXPECT_EQ(Used(kFw), 5);
  EXPECT_EQ(Holdings(book_, "b").at(std::string(kFw)), 3);
  EXPECT_EQ(RowOf(book_, clock_.Now(), "default", kFw).status, ComplianceStatus::kOutOfCompliance);
}

TEST_F(AuthorizeTest, EnforcedPoolBeyondAvailableIsDeniedAndRecordsNothing) {
  Entitle({Ent("e1", std::string(kFw), 2, Enforcement::kEnforced)});
  Auth(MakeDevice("a"), {{std::string(kFw), 1}});
  const AuthorizationDecision d = Auth(MakeDevice("b"), {{std::string(kFw), 2}});
  const TagDecision b = TagOf(d, kFw);
  EXPECT_EQ(b.status, TagStatus::kDenied);
  EXPECT_EQ(b.granted, 0);
  EXPECT_FALSE(b.valid_until.has_value());
  EXPECT_NE(b.reason.find("1 unit available"), std::string::npos) << b.reason;
  EXPECT_NE(b.reason.find("ENFORCED"), std::string::npos) << b.reason;
  EXPECT_TRUE(d.delta.empty());
  EXPECT_TRUE(Holdings(book_, "b").empty());
  EXPECT_EQ(Used(kFw), 1);
}

TEST_F(AuthorizeTest, EnforcedPoolGrantsExactlyThePurchasedQuantity) {
  Entitle({Ent("e1", std::string(kFw), 3, Enforcement::kEnforced)});
  EXPECT_EQ(TagOf(Auth(MakeDevice("a"), {{std::string(kFw), 2}}), kFw).status,
            TagStatus::kAuthorized);
  EXPECT_EQ(TagOf(Auth(MakeDevice("b"), {{std::string(kFw), 1}}), kFw).status,
            TagStatus::kAuthorized);
  EXPECT_EQ(TagOf(Auth(MakeDevice("c"), {{std::string(kFw), 1}}), kFw).status, TagStatus::kDenied);
  EXPECT_EQ(Used(kFw), 3);
}

TEST_F(AuthorizeTest, EnforcedPoolIsNeverOverAllocatedWhateverTheOrder) {
  std::vector<std::pair<std::string, int64_t>> asks = {{"a", 2}, {"b", 3}, {"c", 1}, {"d", 4}};
  std::sort(asks.begin(), asks.end());
  do {
    PoolBook book;
    ASSERT_OK(book.ReplaceEntitlements({MakeEntitlement("e1", "default", std::string(kFw), 5,
                                                        clock_.Now(), Enforcement::kEnforced)}));
    int64_t granted = 0;
    for (const auto& [instance, count] : asks) {
      auto d = book.Authorize(MakeDevice(instance), {{std::string(kFw), count}}, clock_.Now());
      ASSERT_OK(d);
      granted += d->tags[0].granted;
      EXPECT_EQ(d->tags[0].status == TagStatus::kAuthorized, d->tags[0].granted == count);
    }
    EXPECT_LE(granted, 5);
    EXPECT_EQ(InUse(book, clock_.Now(), "default", kFw), granted);
  } while (std::next_permutation(asks.begin(), asks.end()));
}

TEST_F(AuthorizeTest, DeviceOwnConsumptionDoesNotCountAgainstIt) {
  Entitle({Ent("e1", std::string(kFw), 5, Enforcement::kEnforced)});
  Auth(MakeDevice("a"), {{std::string(kFw), 3}});
  const AuthorizationDecision d = Auth(MakeDevice("a"), {{std::string(kFw), 5}});
  EXPECT_EQ(TagOf(d, kFw).status, TagStatus::kAuthorized);
  ASSERT_EQ(d.delta.changes.size(), 1u);
  EXPECT_EQ(d.delta.changes[0].old_count, 3);
  EXPECT_EQ(d.delta.changes[0].new_count, 5);
  EXPECT_EQ(Used(kFw), 5);
}

TEST_F(AuthorizeTest, DeniedIncreaseDropsWhatTheDeviceHeldForThatTag) {
  Entitle({Ent("e1", std::string(kFw), 5, Enforcement::kEnforced)});
  Auth(MakeDevice("a"), {{std::string(kFw), 2}});
  const AuthorizationDecision d = Auth(MakeDevice("a"), {{std::string(kFw), 6}});
  EXPECT_EQ(TagOf(d, kFw).status, TagStatus::kDenied);
  ASSERT_EQ(d.delta.changes.size(), 1u);
  EXPECT_EQ(d.delta.changes[0].old_count, 2);
  EXPECT_EQ(d.delta.changes[0].new_count, 0);
  EXPECT_EQ(Used(kFw), 0);
}

TEST_F(AuthorizeTest, TagWithoutEntitlementIsNotEntitledAndRecordsNothing) {
  Entitle({Ent("e1", std::string(kFw), 5)});
  const AuthorizationDecision d =
      Auth(MakeDevice("a"), {{std::string(kFw), 1}, {"regid.example.unknown", 1}});
  const TagDecision unknown = TagOf(d, "regid.example.unknown");
  EXPECT_EQ(unknown.status, TagStatus::kNotEntitled);
  EXPECT_EQ(unknown.granted, 0);
  EXPECT_NE(unknown.reason.find("has no entitlement"), std::string::npos) << unknown.reason;
  EXPECT_EQ(Holdings(book_, "a"), (std::map<std::string, int64_t>{{std::string(kFw), 1}}));
  EXPECT_EQ(RowOf(book_, clock_.Now(), "default", "regid.example.unknown").in_use, 0);
}

TEST_F(AuthorizeTest, EntitlementOfAnotherVaDoesNotEntitle) {
  Entitle({Ent("e1", std::string(kFw), 5, Enforcement::kReported, "lab")});
  EXPECT_EQ(TagOf(Auth(MakeDevice("a", "default"), {{std::string(kFw), 1}}), kFw).status,
            TagStatus::kNotEntitled);
  EXPECT_EQ(TagOf(Auth(MakeDevice("b", "lab"), {{std::string(kFw), 1}}), kFw).status,
            TagStatus::kAuthorized);
}

TEST_F(AuthorizeTest, EntitlementNotYetStartedIsNotEntitled) {
  Entitlement e = Ent("e1", std::string(kFw), 5);
  e.start = clock_.Now() + kDay;
  Entitle({e});
  const TagDecision d = TagOf(Auth(MakeDevice("a"), {{std::string(kFw), 1}}), kFw);
  EXPECT_EQ(d.status, TagStatus::kNotEntitled);
  EXPECT_NE(d.reason.find("starts at " + FormatRfc3339(e.start)), std::string::npos) << d.reason;
  clock_.Advance(kDay);  // starting exactly now counts
  EXPECT_EQ(TagOf(Auth(MakeDevice("a"), {{std::string(kFw), 1}}), kFw).status,
            TagStatus::kAuthorized);
}

TEST_F(AuthorizeTest, EntitlementEndingExactlyNowNoLongerEntitles) {
  Entitlement e = Ent("e1", std::string(kFw), 5);
  e.end = clock_.Now() + 1s;
  Entitle({e});
  EXPECT_EQ(TagOf(Auth(MakeDevice("a"), {{std::string(kFw), 1}}), kFw).status,
            TagStatus::kAuthorized);
  clock_.Advance(1s);
  const TagDecision d = TagOf(Auth(MakeDevice("a"), {{std::string(kFw), 1}}), kFw);
  EXPECT_EQ(d.status, TagStatus::kNotEntitled);
  EXPECT_NE(d.reason.find("ended at " + FormatRfc3339(*e.end)), std::string::npos) << d.reason;
  EXPECT_EQ(Used(kFw), 0);
}

TEST_F(AuthorizeTest, EndedEntitlementStopsCountingWhileAnotherContinues) {
  Entitlement ending = Ent("e1", std::string(kFw), 3, Enforcement::kEnforced);
  ending.end = clock_.Now() + kDay;
  Entitle({ending, Ent("e2", std::string(kFw), 2, Enforcement::kEnforced)});
  EXPECT_EQ(TagOf(Auth(MakeDevice("a"), {{std::string(kFw), 5}}), kFw).status,
            TagStatus::kAuthorized);
  clock_.Advance(kDay);
  EXPECT_EQ(TagOf(Auth(MakeDevice("a"), {{std::string(kFw), 5}}), kFw).status, TagStatus::kDenied);
  EXPECT_EQ(TagOf(Auth(MakeDevice("a"), {{std::string(kFw), 2}}), kFw).status,
            TagStatus::kAuthorized);
}

TEST_F(AuthorizeTest, ExportControlledTagIsDeniedWithoutTokenPermission) {
  Entitlement e = Ent("e1", std::string(kFw), 5);
  e.export_controlled = true;
  Entitle({e});
  const TagDecision d =
      TagOf(Auth(MakeDevice("a", "default", false), {{std::string(kFw), 1}}), kFw);
  EXPECT_EQ(d.status, TagStatus::kDenied);
  EXPECT_EQ(d.granted, 0);
  EXPECT_NE(d.reason.find("export-controlled"), std::string::npos) << d.reason;
  EXPECT_EQ(Used(kFw), 0);
  EXPECT_EQ(TagOf(Auth(MakeDevice("b", "default", true), {{std::string(kFw), 1}}), kFw).status,
            TagStatus::kAuthorized);
  EXPECT_EQ(Used(kFw), 1);
}

TEST_F(AuthorizeTest, DeclarativeRequestReplacesPreviousConsumption) {
  Entitle({Ent("e1", std::string(kFw), 5), Ent("e2", std::string(kVpn), 5)});
  Auth(MakeDevice("a"), {{std::string(kFw), 2}, {std::string(kVpn), 1}});
  const AuthorizationDecision d = Auth(MakeDevice("a"), {{std::string(kFw), 1}});
  EXPECT_EQ(Holdings(book_, "a"), (std::map<std::string, int64_t>{{std::string(kFw), 1}}));
  EXPECT_EQ(Used(kFw), 1);
  EXPECT_EQ(Used(kVpn), 0);
  ASSERT_EQ(d.delta.changes.size(), 2u);
  EXPECT_EQ(d.delta.changes[0].tag, kFw);
  EXPECT_EQ(d.delta.changes[0].old_count, 2);
  EXPECT_EQ(d.delta.changes[0].new_count, 1);
  EXPECT_EQ(d.delta.changes[1].tag, kVpn);
  EXPECT_EQ(d.delta.changes[1].old_count, 1);
  EXPECT_EQ(d.delta.changes[1].new_count, 0);
  EXPECT_FALSE(d.delta.changes[1].valid_until.has_value());
}

TEST_F(AuthorizeTest, EmptyRequestReleasesEverything) {
  Entitle({Ent("e1", std::string(kFw), 5)});
  Auth(MakeDevice("a"), {{std::string(kFw), 2}});
  const AuthorizationDecision d = Auth(MakeDevice("a"), {});
  EXPECT_TRUE(d.tags.empty());
  EXPECT_EQ(d.valid_until, clock_.Now() + AuthorizationPolicy{}.validity);
  EXPECT_EQ(d.delta.changes.size(), 1u);
  EXPECT_TRUE(book_.DeviceConsumption("a").empty());
  EXPECT_EQ(Used(kFw), 0);
}

TEST_F(AuthorizeTest, RepeatingTheSameRequestIsIdempotent) {
  Entitle({Ent("e1", std::string(kFw), 3, Enforcement::kEnforced)});
  const std::vector<TagRequest> request = {{std::string(kFw), 3}};
  const AuthorizationDecision first = Auth(MakeDevice("a"), request);
  const BookState after_first = book_.Snapshot();
  const AuthorizationDecision second = Auth(MakeDevice("a"), request);
  EXPECT_EQ(second.tags, first.tags);
  EXPECT_EQ(second.valid_until, first.valid_until);
  EXPECT_EQ(second.renew_after, first.renew_after);
  EXPECT_TRUE(second.delta.empty());
  EXPECT_EQ(book_.Snapshot(), after_first);
  EXPECT_EQ(Used(kFw), 3);
}

TEST_F(AuthorizeTest, RenewalExtendsValidUntilWithoutCountingTwice) {
  Entitle({Ent("e1", std::string(kFw), 3, Enforcement::kEnforced)});
  const AuthorizationDecision first = Auth(MakeDevice("a"), {{std::string(kFw), 3}});
  EXPECT_EQ(first.valid_until, clock_.Now() + 90 * kDay);
  EXPECT_EQ(first.renew_after, clock_.Now() + 30 * kDay);
  clock_.Advance(31 * kDay);
  const AuthorizationDecision renewed = Auth(MakeDevice("a"), {{std::string(kFw), 3}});
  EXPECT_EQ(TagOf(renewed, kFw).status, TagStatus::kAuthorized);
  EXPECT_EQ(renewed.valid_until, clock_.Now() + 90 * kDay);
  ASSERT_EQ(renewed.delta.changes.size(), 1u);
  EXPECT_EQ(renewed.delta.changes[0].old_count, 3);
  EXPECT_EQ(renewed.delta.changes[0].new_count, 3);
  EXPECT_EQ(renewed.delta.changes[0].valid_until, clock_.Now() + 90 * kDay);
  EXPECT_EQ(Used(kFw), 3);
}

TEST_F(AuthorizeTest, ValidityFollowsThePolicy) {
  Entitle({Ent("e1", std::string(kFw), 3)});
  AuthorizationPolicy policy;
  policy.validity = 10 * kDay;
  policy.renewal = 2 * kDay;
  auto d = book_.Authorize(MakeDevice("a"), {{std::string(kFw), 1}}, clock_.Now(), policy);
  ASSERT_OK(d);
  EXPECT_EQ(d->valid_until, clock_.Now() + 10 * kDay);
  EXPECT_EQ(d->renew_after, clock_.Now() + 2 * kDay);
  EXPECT_EQ(TagOf(*d, kFw).valid_until, clock_.Now() + 10 * kDay);
}

TEST_F(AuthorizeTest, FloatingTagGetsAShortLeaseThatBoundsTheWholeAnswer) {
  Entitlement floating = Ent("e1", std::string(kVpn), 2);
  floating.floating = true;
  Entitle({Ent("e0", std::string(kFw), 3), floating});
  const AuthorizationDecision d =
      Auth(MakeDevice("a"), {{std::string(kFw), 1}, {std::string(kVpn), 1}});
  EXPECT_TRUE(TagOf(d, kVpn).floating);
  EXPECT_EQ(TagOf(d, kVpn).valid_until, clock_.Now() + 15min);
  EXPECT_EQ(TagOf(d, kVpn).renew_after, clock_.Now() + Duration(15min) / 2);
  EXPECT_FALSE(TagOf(d, kFw).floating);
  EXPECT_EQ(TagOf(d, kFw).valid_until, clock_.Now() + 90 * kDay);
  EXPECT_EQ(d.valid_until, clock_.Now() + 15min);
  EXPECT_EQ(d.renew_after, clock_.Now() + Duration(15min) / 2);
}

TEST_F(AuthorizeTest, EachTagIsDecidedOnItsOwn) {
  Entitle(
      {Ent("e1", std::string(kFw), 1, Enforcement::kEnforced), Ent("e2", std::string(kVpn), 5)});
  Auth(MakeDevice("x"), {{std::string(kFw), 1}});
  const AuthorizationDecision d = Auth(
      MakeDevice("a"), {{std::string(kVpn), 2}, {std::string(kFw), 1}, {"regid.example.none", 1}});
  ASSERT_EQ(d.tags.size(), 3u);  // in request order
  EXPECT_EQ(d.tags[0].status, TagStatus::kAuthorized);
  EXPECT_EQ(d.tags[1].status, TagStatus::kDenied);
  EXPECT_EQ(d.tags[2].status, TagStatus::kNotEntitled);
  EXPECT_EQ(Holdings(book_, "a"), (std::map<std::string, int64_t>{{std::string(kVpn), 2}}));
}

TEST_F(AuthorizeTest, NamesOfStatusesAreTheWireNames) {
  EXPECT_EQ(TagStatusName(TagStatus::kAuthorized), "AUTHORIZED");
  EXPECT_EQ(TagStatusName(TagStatus::kOutOfCompliance), "OUT_OF_COMPLIANCE");
  EXPECT_EQ(TagStatusName(TagStatus::kDenied), "DENIED");
  EXPECT_EQ(TagStatusName(TagStatus::kNotEntitled), "NOT_ENTITLED");
}

struct BadRequest {
  std::string name;
  DeviceRef device;
  std::vector<TagRequest> requests;
  std::string message;
};

TEST_F(AuthorizeTest, BadInputIsRefusedWithAClearErrorAndChangesNothing) {
  Entitle({Ent("e1", std::string(kFw), 5), Ent("e2", std::string(kVpn), 5)});
  Auth(MakeDevice("a"), {{std::string(kFw), 2}});
  const BookState before = book_.Snapshot();
  const std::string fw(kFw);
  DeviceRef no_instance = MakeDevice("a");
  no_instance.instance_id = "";
  DeviceRef bad_udi = MakeDevice("a");
  bad_udi.udi.serial = "has space";
  DeviceRef bad_va = MakeDevice("a");
  bad_va.va = "";
  std::vector<TagRequest> too_many;
  for (int i = 0; i <= static_cast<int>(kMaxTagsPerRequest); ++i) {
    too_many.push_back({"tag" + std::to_string(i), 1});
  }
  const std::vector<BadRequest> cases = {
      {"empty tag", MakeDevice("a"), {{"", 1}}, "license tag is empty"},
      {"tag with space", MakeDevice("a"), {{"fw base", 1}}, "contains ' '"},
      {"tag starting with dot", MakeDevice("a"), {{".fw", 1}}, "must start with a letter"},
      {"zero count", MakeDevice("a"), {{fw, 0}}, "is 0; it must be between 1 and 1000000"},
      {"negative count", MakeDevice("a"), {{fw, -1}}, "is -1"},
      {"absurd count", MakeDevice("a"), {{fw, kMaxCount + 1}}, "is 1000001"},
      {"duplicate tag",
       MakeDevice("a"),
       {{fw, 1}, {std::string(kVpn), 1}, {fw, 2}},
       "appears twice"},
      {"no instance id", no_instance, {{fw, 1}}, "instance id is empty"},
      {"bad udi", bad_udi, {{fw, 1}}, "UDI serial number 'has space'"},
      {"bad va", bad_va, {{fw, 1}}, "virtual account name is empty"},
      {"too many tags", MakeDevice("a"), too_many, "at most 1000"},
  };
  for (const BadRequest& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = book_.Authorize(c.device, c.requests, clock_.Now());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Errc::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.message), std::string::npos) << r.status().message();
    EXPECT_EQ(book_.Snapshot(), before);
  }
  AuthorizationPolicy bad_policy;
  bad_policy.floating_lease = 10s;
  auto r = book_.Authorize(MakeDevice("a"), {}, clock_.Now(), bad_policy);
  EXPECT_EQ(r.status().code(), Errc::kInvalidArgument);
  EXPECT_NE(r.status().message().find("floating lease"), std::string::npos);
  EXPECT_EQ(book_.Snapshot(), before);
}

TEST_F(AuthorizeTest, UdiHeldByAnotherInstanceIsRefused) {
  Entitle({Ent("e1", std::string(kFw), 5)});
  Auth(MakeDevice("a"), {{std::string(kFw), 1}});
  const BookState before = book_.Snapshot();
  DeviceRef impostor = MakeDevice("b");
  impostor.udi = MakeDevice("a").udi;
  auto r = book_.Authorize(impostor, {{std::string(kFw), 1}}, clock_.Now());
  EXPECT_EQ(r.status().code(), Errc::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("instance 'a'"), std::string::npos) << r.status().message();
  EXPECT_EQ(book_.Snapshot(), before);

  DeviceRef moved = MakeDevice("a", "lab");
  r = book_.Authorize(moved, {{std::string(kFw), 1}}, clock_.Now());
  EXPECT_EQ(r.status().code(), Errc::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("rehost or release"), std::string::npos);
  EXPECT_EQ(book_.Snapshot(), before);
}

}  // namespace
}  // namespace outpost::server::licensing
