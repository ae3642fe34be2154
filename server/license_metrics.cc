#include "server/license_metrics.h"

#include <array>
#include <optional>
#include <string>

#include "server/licensing/operator_service.h"

namespace outpost::server {
namespace {

// Every status a pool can have (licensing/core/compliance.h), so that a dashboard sees a 0
// series for the statuses a pool is not in, not a gap.
constexpr std::array<const char*, 4> kStatuses = {"IN_COMPLIANCE", "OUT_OF_COMPLIANCE", "EXPIRING",
                                                  "EXPIRED"};

}  // namespace

std::vector<net::Metrics::Family> LicenseFamilies(const v1::ListLicensesResponse& licenses) {
  net::Metrics::Family purchased{"outpost_license_purchased",
                                 "Licenses purchased (entitlements valid now), per virtual "
                                 "account and tag.",
                                 "gauge",
                                 {}};
  net::Metrics::Family in_use{"outpost_license_in_use",
                              "Licenses held by devices, per virtual account and tag.",
                              "gauge",
                              {}};
  net::Metrics::Family available{
      "outpost_license_available",
      "Licenses left for new grants (purchased less in use and reserved, at least 0), per "
      "virtual account and tag.",
      "gauge",
      {}};
  net::Metrics::Family status{
      "outpost_license_status",
      "Compliance of each virtual account and tag: 1 for its current status, 0 for the others.",
      "gauge",
      {}};
  for (const v1::LicensePool& p : licenses.pools()) {
    const std::vector<std::pair<std::string, std::string>> labels = {{"va", p.va()},
                                                                     {"tag", p.tag()}};
    purchased.samples.push_back({labels, static_cast<double>(p.purchased())});
    in_use.samples.push_back({labels, static_cast<double>(p.in_use())});
    available.samples.push_back({labels, static_cast<double>(p.available())});
    for (const char* s : kStatuses) {
      auto with_status = labels;
      with_status.emplace_back("status", s);
      status.samples.push_back({std::move(with_status), p.status() == s ? 1.0 : 0.0});
    }
  }
  return {std::move(purchased), std::move(in_use), std::move(available), std::move(status)};
}

void AddLicenseMetrics(net::Metrics& metrics, const licensing::OperatorService& licensing) {
  metrics.AddFamilies([&licensing] { return LicenseFamilies(licensing.Licenses(std::nullopt)); });
}

}  // namespace outpost::server
