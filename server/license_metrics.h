#pragma once

// License gauges per virtual account and tag for /metrics (DESIGN.md section 7):
//
//   outpost_license_purchased{va,tag}        quantity of the entitlements valid now
//   outpost_license_in_use{va,tag}           what devices hold
//   outpost_license_available{va,tag}        what is left for new grants (never negative)
//   outpost_license_status{va,tag,status}    1 for the pool's compliance status, 0 for the others
//
// Read at every scrape from the licensing service's pools in memory (one entry per (VA, tag),
// never per device), so a scrape costs the same at a million devices as at ten.

#include <vector>

#include "common/net/metrics.h"
#include "outpost/v1/licensing.pb.h"

namespace outpost::server {
namespace licensing {
class OperatorService;
}

// The four families for `licenses` (a compliance listing), one sample per pool and label set.
std::vector<net::Metrics::Family> LicenseFamilies(const v1::ListLicensesResponse& licenses);

// Registers LicenseFamilies over `licensing.Licenses()` on `metrics`; `licensing` must outlive
// the metrics' use.
void AddLicenseMetrics(net::Metrics& metrics, const licensing::OperatorService& licensing);

}  // namespace outpost::server
