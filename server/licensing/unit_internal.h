#pragma once

// Private to server/licensing: how LicensingImpl runs a unit of work (Submit), and the helpers
// the device, operator and background code share to persist and audit a change.

#include <boost/json.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "server/audit/audit_log.h"
#include "server/licensing/service_internal.h"

namespace outpost::server::licensing {
namespace internal {

// Decisions are made, and stored, in whole seconds.
inline TimePoint Truncate(TimePoint t) { return std::chrono::floor<std::chrono::seconds>(t); }

inline Status Audit(sqlite::Connection& db, audit::Actor actor, std::string action,
                    std::string object, const boost::json::object& details, TimePoint now) {
  return audit::Append(
      db, {std::move(actor), std::move(action), std::move(object), boost::json::serialize(details)},
      now);
}

// The tags of a delta with their old (what was released) or new (what is held) counts.
inline boost::json::array TagsJson(const ConsumptionDelta& delta, bool old_counts) {
  boost::json::array out;
  for (const TagChange& c : delta.changes) {
    out.push_back(
        boost::json::object{{"tag", c.tag}, {"count", old_counts ? c.old_count : c.new_count}});
  }
  return out;
}

}  // namespace internal

template <typename WorkFn, typename DoneFn>
void LicensingImpl::Submit(WorkFn work, DoneFn done) {
  using Outcome = std::invoke_result_t<WorkFn&, sqlite::Connection&, UnitState&>;
  // The unit keeps its own state (did it change memory? what did it return?) for its Done.
  class ServiceUnit final : public sqlite::Unit {
   public:
    ServiceUnit(LicensingImpl* service, WorkFn work, DoneFn done)
        : service_(service), work_(std::move(work)), done_(std::move(done)) {}
    Status Run(sqlite::Connection& db) override {
      std::unique_lock lock(service_->mu_);
      if (service_->stale_) OUTPOST_RETURN_IF_ERROR(service_->ReloadLocked(db));
      Status s;
      if constexpr (std::is_same_v<Outcome, Status>) {
        s = work_(db, state_);
      } else {
        result_.emplace(work_(db, state_));
        s = result_->ok() ? Status::Ok() : result_->status();
      }
      if (!s.ok() && state_.mutated) service_->stale_ = true;
      return s;
    }
    void Done(const Status& s, sqlite::Batch& batch) override {
      if (!s.ok() && state_.mutated) {
        std::unique_lock lock(service_->mu_);
        service_->stale_ = true;
      }
      if constexpr (std::is_same_v<Outcome, Status>) {
        Call(Status(s), batch);
      } else if (!s.ok()) {
        Call(Outcome(s), batch);
      } else if (!result_) {
        Call(Outcome(Internal("the unit of work did not run")), batch);
      } else {
        Call(std::move(*result_), batch);
      }
    }

   private:
    void Call(Outcome outcome, sqlite::Batch& batch) {
      if constexpr (std::is_invocable_v<DoneFn&, Outcome, sqlite::Batch&>) {
        done_(std::move(outcome), batch);
      } else {
        done_(std::move(outcome));
      }
    }
    LicensingImpl* service_;
    WorkFn work_;
    DoneFn done_;
    UnitState state_;
    std::optional<Outcome> result_;
  };
  writer_.Submit(std::make_unique<ServiceUnit>(this, std::move(work), std::move(done)));
}

}  // namespace outpost::server::licensing
