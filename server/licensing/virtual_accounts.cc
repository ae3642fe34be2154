// LicensingImpl: the virtual accounts this satellite knows, and the record of moves.

#include <algorithm>
#include <map>
#include <set>

#include "common/time.h"
#include "server/licensing/service_internal.h"

namespace outpost::server::licensing {
namespace {

constexpr char kDefaultVa[] = "default";

}  // namespace

void LicensingImpl::SetCentralVirtualAccounts(std::vector<std::string> vas) {
  std::sort(vas.begin(), vas.end());
  vas.erase(std::unique(vas.begin(), vas.end()), vas.end());
  std::unique_lock lock(mu_);
  central_vas_ = std::move(vas);
}

v1::ListVirtualAccountsResponse LicensingImpl::VirtualAccounts() const {
  const TimePoint now = Now();
  struct Totals {
    bool from_central = false;
    int64_t tags = 0, purchased = 0, in_use = 0;
  };
  std::map<std::string, Totals> vas;
  bool central_known = false;
  {
    std::shared_lock lock(mu_);
    central_known = !central_vas_.empty();
    for (const std::string& va : central_vas_) vas[va].from_central = true;
    for (const ComplianceRow& r : book_.Compliance(now, std::nullopt)) {
      Totals& t = vas[r.va];
      t.tags++;
      t.purchased += r.purchased;
      t.in_use += r.in_use;
    }
  }
  if (!central_known) vas.try_emplace(kDefaultVa);
  v1::ListVirtualAccountsResponse out;
  out.set_central_list_known(central_known);
  for (const auto& [name, t] : vas) {
    v1::VirtualAccountInfo* v = out.add_virtual_accounts();
    v->set_name(name);
    v->set_from_central(t.from_central);
    v->set_tags(t.tags);
    v->set_purchased(t.purchased);
    v->set_in_use(t.in_use);
  }
  return out;
}

Status LicensingImpl::CheckVirtualAccount(std::string_view va) const {
  OUTPOST_RETURN_IF_ERROR(ValidateVaName(va));
  {
    // The same set as VirtualAccounts() lists, without computing every pool's figures: every
    // request naming a VA passes here (10,000 pools at the benchmark's size).
    std::shared_lock lock(mu_);
    if (std::binary_search(central_vas_.begin(), central_vas_.end(), va) || book_.HasPoolsIn(va) ||
        (central_vas_.empty() && va == kDefaultVa)) {
      return Status::Ok();
    }
  }
  const v1::ListVirtualAccountsResponse known = VirtualAccounts();
  std::string names;
  for (const v1::VirtualAccountInfo& v : known.virtual_accounts()) {
    if (v.name() == va) return Status::Ok();
    names += (names.empty() ? "" : ", ") + v.name();
  }
  return NotFound("this satellite knows no virtual account " + Quote(va) + " (it knows: " + names +
                  (known.central_list_known() ? ", from central's last sync response"
                                              : "; no sync response imported yet") +
                  "). Check the spelling (`outpost va list`), or create it at central "
                  "(`outpost central va create ACCOUNT VA`) and sync before using it");
}

Result<v1::ListMovesResponse> LicensingImpl::Moves() const {
  OUTPOST_ASSIGN_OR_RETURN(auto lease, readers_.Acquire());
  OUTPOST_ASSIGN_OR_RETURN(
      auto stmt, lease->Query("SELECT id, from_va, to_va, tag, count, created_at, created_by, "
                              "reported_at, result, result_message FROM license_moves "
                              "ORDER BY created_at DESC, id"));
  v1::ListMovesResponse out;
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    v1::LicenseMoveInfo* m = out.add_moves();
    m->set_move_id(stmt->ColumnText(0));
    m->set_from_va(stmt->ColumnText(1));
    m->set_to_va(stmt->ColumnText(2));
    m->set_tag(stmt->ColumnText(3));
    m->set_count(stmt->ColumnInt64(4));
    m->set_created_at(stmt->ColumnInt64(5));
    m->set_created_at_text(FormatRfc3339Seconds(stmt->ColumnInt64(5)));
    m->set_created_by(stmt->ColumnText(6));
    const bool answered = !stmt->ColumnIsNull(7);
    const std::string result = stmt->ColumnText(8);
    m->set_status(!answered || result.empty() ? "PENDING" : result);
    m->set_message(stmt->ColumnText(9));
    if (answered) {
      m->set_answered_at(stmt->ColumnInt64(7));
      m->set_answered_at_text(FormatRfc3339Seconds(stmt->ColumnInt64(7)));
    }
  }
  return out;
}

}  // namespace outpost::server::licensing
