#include "server/licensing/device_search.h"

#include <array>
#include <string_view>

#include "common/crypto/encoding.h"
#include "common/crypto/hash.h"
#include "outpost/v1/licensing.pb.h"

namespace outpost::server::licensing {
namespace {

// Every walk selects the same columns: the id, the VA, the lower-cased UDI and hostname (the
// search keys), then what the listing shows from the row.
#define OUTPOST_SEARCH_COLUMNS                                                       \
  "SELECT d.instance_id, d.va, lower(d.pid || ':' || d.serial), lower(d.hostname), " \
  "d.hostname, d.token_id, d.registered_at, d.last_seen_at "

// A prefix is the range [?1, ?2) of its index; ?3 resumes after (key ?1, instance id ?3).
constexpr std::string_view kWalkUdi = OUTPOST_SEARCH_COLUMNS
    "FROM devices d WHERE lower(d.pid || ':' || d.serial) >= ?1 "
    "AND lower(d.pid || ':' || d.serial) < ?2 "
    "AND (lower(d.pid || ':' || d.serial) > ?1 OR d.instance_id > ?3) "
    "ORDER BY lower(d.pid || ':' || d.serial), d.instance_id";
constexpr std::string_view kWalkHostname = OUTPOST_SEARCH_COLUMNS
    "FROM devices d WHERE lower(d.hostname) >= ?1 AND lower(d.hostname) < ?2 "
    "AND (lower(d.hostname) > ?1 OR d.instance_id > ?3) "
    "ORDER BY lower(d.hostname), d.instance_id";
// CROSS JOIN keeps the planner on the consumption_tag index, then one primary-key look-up each.
constexpr std::string_view kWalkTag = OUTPOST_SEARCH_COLUMNS
    "FROM consumption c CROSS JOIN devices d ON d.instance_id = c.instance_id "
    "WHERE c.tag = ?1 AND c.instance_id > ?2 ORDER BY c.instance_id";
constexpr std::string_view kWalkAll =
    OUTPOST_SEARCH_COLUMNS "FROM devices d WHERE d.instance_id > ?1 ORDER BY d.instance_id";
#undef OUTPOST_SEARCH_COLUMNS

constexpr std::string_view kHoldsTag =
    "SELECT count(*) FROM consumption WHERE instance_id = ?1 AND tag = ?2";

enum class Phase { kUdi, kHostname, kTag, kAll };

std::string_view PhaseName(Phase p) {
  switch (p) {
    case Phase::kUdi:
      return "udi";
    case Phase::kHostname:
      return "hostname";
    case Phase::kTag:
      return "tag";
    case Phase::kAll:
      return "id";
  }
  return "";
}

// The normalised query: what the walk and the filters compare with.
struct Plan {
  std::string q, udi, hostname;  // lower-cased
  std::string tag;
  std::optional<std::string> va;
  std::vector<Phase> phases;
  std::string fingerprint;
};

Plan MakePlan(const DeviceQuery& query) {
  Plan plan;
  plan.q = AsciiLower(query.q);
  plan.udi = AsciiLower(query.udi);
  plan.hostname = AsciiLower(query.hostname);
  plan.tag = query.tag;
  plan.va = query.va;
  if (!plan.q.empty()) {
    plan.phases = {Phase::kUdi, Phase::kHostname};
  } else if (!plan.udi.empty()) {
    plan.phases = {Phase::kUdi};
  } else if (!plan.hostname.empty()) {
    plan.phases = {Phase::kHostname};
  } else if (!plan.tag.empty()) {
    plan.phases = {Phase::kTag};
  } else {
    plan.phases = {Phase::kAll};
  }
  std::string filters = "device-search/v1";
  for (const std::string* part : {&plan.q, &plan.udi, &plan.hostname, &plan.tag}) {
    filters += '\n' + std::to_string(part->size()) + ':' + *part;
  }
  filters += plan.va ? "\n1:" + *plan.va : std::string("\n0");
  plan.fingerprint = crypto::Sha256Hex(filters).substr(0, 16);
  return plan;
}

// The prefix a phase walks ("" for tag and id walks).
const std::string& PhasePrefix(const Plan& plan, Phase phase) {
  static const std::string kNone;
  if (phase == Phase::kUdi) return plan.q.empty() ? plan.udi : plan.q;
  if (phase == Phase::kHostname) return plan.q.empty() ? plan.hostname : plan.q;
  return kNone;
}

// The first string after every string that starts with `prefix` (SQLite compares text bytewise).
std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) prefix.pop_back();
  if (prefix.empty()) return std::string(8, '\xff');
  prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

Status CheckText(const char* name, const std::string& value) {
  if (value.size() > kMaxSearchTextBytes) {
    return InvalidArgument(std::string("query parameter '") + name + "' is longer than " +
                           std::to_string(kMaxSearchTextBytes) + " bytes; shorten the search");
  }
  for (unsigned char c : value) {
    if (c < 0x20 || c == 0x7f) {
      return InvalidArgument(std::string("query parameter '") + name +
                             "' holds a control character; search for printable text");
    }
  }
  return Status::Ok();
}

struct Resume {
  size_t phase_index = 0;
  std::string key;
  std::string instance_id;  // "" to start the phase at its beginning
};

Status BadCursor(std::string_view why) {
  return InvalidArgument("query parameter 'after' is not a cursor of this search (" +
                         std::string(why) +
                         "); pass the next_after of the previous page unchanged with the same "
                         "filters, or leave 'after' out to start again");
}

constexpr size_t kCursorMacBytes = 16;

std::string CursorMac(std::string_view key, std::string_view bytes) {
  return crypto::HmacSha256(key, bytes).substr(0, kCursorMacBytes);
}

Result<Resume> ParseCursor(const Plan& plan, const std::string& after, std::string_view key) {
  Resume resume;
  if (after.empty()) return resume;
  if (after.size() > 4 * kMaxSearchTextBytes) return BadCursor("too long");
  auto bytes = crypto::Base64UrlDecode(after);
  if (!bytes.ok()) return BadCursor("not base64url");
  if (bytes->size() < kCursorMacBytes) return BadCursor("too short");
  const std::string_view body = std::string_view(*bytes).substr(0, bytes->size() - kCursorMacBytes);
  if (!crypto::ConstantTimeEquals(CursorMac(key, body),
                                  std::string_view(*bytes).substr(body.size()))) {
    return BadCursor("altered, or from before the satellite restarted");
  }
  v1::DeviceSearchCursor cursor;
  if (!cursor.ParseFromString(std::string(body))) return BadCursor("undecodable");
  if (cursor.search() != plan.fingerprint) {
    return BadCursor("it belongs to a search with other filters");
  }
  size_t i = 0;
  while (i < plan.phases.size() && PhaseName(plan.phases[i]) != cursor.phase()) ++i;
  if (i == plan.phases.size()) return BadCursor("unknown position");
  const Phase phase = plan.phases[i];
  if (cursor.instance_id().empty()) return BadCursor("no position");
  if ((phase == Phase::kUdi || phase == Phase::kHostname) &&
      !StartsWith(cursor.key(), PhasePrefix(plan, phase))) {
    return BadCursor("position outside the search");
  }
  resume.phase_index = i;
  resume.key = cursor.key();
  resume.instance_id = cursor.instance_id();
  return resume;
}

std::string MakeCursor(const Plan& plan, std::string_view mac_key, Phase phase,
                       const std::string& key, const std::string& instance_id) {
  v1::DeviceSearchCursor cursor;
  cursor.set_search(plan.fingerprint);
  cursor.set_phase(std::string(PhaseName(phase)));
  if (phase == Phase::kUdi || phase == Phase::kHostname) cursor.set_key(key);
  cursor.set_instance_id(instance_id);
  const std::string body = cursor.SerializeAsString();
  return crypto::Base64UrlEncode(body + CursorMac(mac_key, body));
}

}  // namespace

std::string AsciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

Status CheckDeviceQuery(const DeviceQuery& query, std::string_view cursor_key) {
  if (query.limit < 1 || query.limit > kMaxDevicePage) {
    return InvalidArgument("query parameter 'limit' must be a whole number from 1 to " +
                           std::to_string(kMaxDevicePage) + ", not " + std::to_string(query.limit));
  }
  OUTPOST_RETURN_IF_ERROR(CheckText("q", query.q));
  OUTPOST_RETURN_IF_ERROR(CheckText("udi", query.udi));
  OUTPOST_RETURN_IF_ERROR(CheckText("hostname", query.hostname));
  OUTPOST_RETURN_IF_ERROR(CheckText("tag", query.tag));
  if (query.va) OUTPOST_RETURN_IF_ERROR(CheckText("va", *query.va));
  return ParseCursor(MakePlan(query), query.after, cursor_key).status();
}

Result<DeviceSearchPage> SearchDevices(sqlite::Connection& db, const DeviceQuery& query,
                                       std::string_view cursor_key, int64_t max_scanned) {
  OUTPOST_RETURN_IF_ERROR(CheckDeviceQuery(query, cursor_key));
  const Plan plan = MakePlan(query);
  OUTPOST_ASSIGN_OR_RETURN(Resume resume, ParseCursor(plan, query.after, cursor_key));
  // A position in the walk: the last row returned, and the last row judged.
  struct Position {
    Phase phase = Phase::kAll;
    std::string key;
    std::string instance_id;
  };
  Position last_returned;
  std::optional<Position> last_judged;
  if (!resume.instance_id.empty()) {
    last_judged = Position{plan.phases[resume.phase_index], resume.key, resume.instance_id};
  }
  DeviceSearchPage page;
  int64_t scanned = 0;
  for (size_t pi = resume.phase_index; pi < plan.phases.size(); ++pi) {
    const Phase phase = plan.phases[pi];
    const bool resuming = pi == resume.phase_index && !resume.instance_id.empty();
    const std::string& prefix = PhasePrefix(plan, phase);
    Result<sqlite::ScopedStatement> walk = [&]() -> Result<sqlite::ScopedStatement> {
      switch (phase) {
        case Phase::kUdi:
        case Phase::kHostname:
          return db.Query(phase == Phase::kUdi ? kWalkUdi : kWalkHostname,
                          resuming ? resume.key : prefix, PrefixEnd(prefix),
                          resuming ? resume.instance_id : std::string());
        case Phase::kTag:
          return db.Query(kWalkTag, plan.tag, resuming ? resume.instance_id : std::string());
        case Phase::kAll:
          break;
      }
      return db.Query(kWalkAll, resuming ? resume.instance_id : std::string());
    }();
    OUTPOST_RETURN_IF_ERROR(walk.status());
    sqlite::Statement& s = **walk;
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      std::string id = s.ColumnText(0);
      const std::string udi_key = s.ColumnText(2);
      const std::string host_key = s.ColumnText(3);
      const std::string& key = phase == Phase::kUdi ? udi_key : host_key;
      if (++scanned > max_scanned && last_judged) {
        // Out of budget: the next page goes on after the last row judged.
        page.next_after = MakeCursor(plan, cursor_key, last_judged->phase, last_judged->key,
                                     last_judged->instance_id);
        return page;
      }
      bool match = !plan.va || s.ColumnText(1) == *plan.va;
      // The walk's own prefix holds by the range; the other texts filter.
      if (match && !plan.udi.empty() && !StartsWith(udi_key, plan.udi)) match = false;
      if (match && !plan.hostname.empty() && !StartsWith(host_key, plan.hostname)) match = false;
      // A q match by UDI was listed in the UDI walk already.
      if (match && phase == Phase::kHostname && !plan.q.empty() && StartsWith(udi_key, plan.q)) {
        match = false;
      }
      if (match && phase != Phase::kTag && !plan.tag.empty()) {
        OUTPOST_ASSIGN_OR_RETURN(int64_t holds, db.QueryInt64(kHoldsTag, id, plan.tag));
        match = holds > 0;
      }
      if (match && static_cast<int64_t>(page.rows.size()) == query.limit) {
        // One more match: the page is full and ends at its last row.
        page.next_after = MakeCursor(plan, cursor_key, last_returned.phase, last_returned.key,
                                     last_returned.instance_id);
        return page;
      }
      last_judged = Position{phase, key, id};
      if (!match) continue;
      last_returned = *last_judged;
      DeviceSearchRow r;
      r.instance_id = std::move(id);
      r.hostname = s.ColumnText(4);
      r.token_id = s.ColumnText(5);
      r.registered_at = s.ColumnInt64(6);
      if (!s.ColumnIsNull(7)) r.last_seen_at = s.ColumnInt64(7);
      page.rows.push_back(std::move(r));
    }
  }
  return page;
}

}  // namespace outpost::server::licensing
