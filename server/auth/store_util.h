#pragma once

// Helpers shared by store.cc and sessions.cc. Internal to server/auth.

#include <boost/json.hpp>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/sqlite/connection.h"
#include "common/status.h"
#include "server/audit/audit_log.h"

namespace outpost::server::auth::internal {

// The actor of records about an unauthenticated attempt: nobody has been identified yet; the
// claimed identity goes in the object, the source address in the details.
inline audit::Actor Anonymous() { return {"anonymous", ""}; }

// Audit details as compact JSON.
inline std::string Details(const boost::json::object& details) {
  return boost::json::serialize(details);
}

// Appends one audit record on the writer connection `db`.
inline Status Audit(sqlite::Connection& db, audit::Actor actor, std::string action,
                    std::string object, const boost::json::object& details, TimePoint now) {
  return audit::Append(
      db,
      audit::AuditEvent{std::move(actor), std::move(action), std::move(object), Details(details)},
      now);
}

// Logs a failed background write (last-used times, failure audits): nobody waits for it.
void LogBackgroundFailure(std::string_view what, const Status& status);

}  // namespace outpost::server::auth::internal
