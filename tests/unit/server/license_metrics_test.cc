#include "server/license_metrics.h"

#include <gtest/gtest.h>

namespace outpost::server {
namespace {

TEST(LicenseMetricsTest, OneSamplePerPoolAndAStatusSeriesForEveryStatus) {
  v1::ListLicensesResponse licenses;
  v1::LicensePool* a = licenses.add_pools();
  a->set_va("default");
  a->set_tag("regid.2026-01.com.example.fw.base");
  a->set_purchased(10);
  a->set_in_use(12);
  a->set_available(0);
  a->set_status("OUT_OF_COMPLIANCE");
  v1::LicensePool* b = licenses.add_pools();
  b->set_va("lab");
  b->set_tag("t2");
  b->set_purchased(5);
  b->set_in_use(1);
  b->set_available(4);
  b->set_status("IN_COMPLIANCE");

  net::Metrics metrics;
  metrics.AddFamilies([licenses] { return LicenseFamilies(licenses); });
  const std::string text = metrics.Render();
  for (const char* line : {
           "# TYPE outpost_license_purchased gauge\n",
           "outpost_license_purchased{va=\"default\",tag=\"regid.2026-01.com.example.fw.base\"} "
           "10\n",
           "outpost_license_in_use{va=\"default\",tag=\"regid.2026-01.com.example.fw.base\"} 12\n",
           "outpost_license_available{va=\"default\",tag=\"regid.2026-01.com.example.fw.base\"} "
           "0\n",
           "outpost_license_status{va=\"default\",tag=\"regid.2026-01.com.example.fw.base\","
           "status=\"OUT_OF_COMPLIANCE\"} 1\n",
           "outpost_license_status{va=\"default\",tag=\"regid.2026-01.com.example.fw.base\","
           "status=\"IN_COMPLIANCE\"} 0\n",
           "outpost_license_purchased{va=\"lab\",tag=\"t2\"} 5\n",
           "outpost_license_available{va=\"lab\",tag=\"t2\"} 4\n",
           "outpost_license_status{va=\"lab\",tag=\"t2\",status=\"IN_COMPLIANCE\"} 1\n",
           "outpost_license_status{va=\"lab\",tag=\"t2\",status=\"EXPIRED\"} 0\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << "missing: " << line << "\n" << text;
  }
  const auto families = LicenseFamilies(licenses);
  ASSERT_EQ(families.size(), 4u);
  EXPECT_EQ(families[3].samples.size(), 2u * 4u);
}

TEST(LicenseMetricsTest, NoPoolsGiveFamiliesWithoutSamples) {
  const auto families = LicenseFamilies(v1::ListLicensesResponse());
  ASSERT_EQ(families.size(), 4u);
  for (const auto& f : families) EXPECT_TRUE(f.samples.empty()) << f.name;
}

}  // namespace
}  // namespace outpost::server
