#include "common/config/key_table.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <type_traits>
#include <utility>

#include "common/config/duration.h"
#include "common/proxy_url.h"
#include "common/syslog_url.h"

namespace outpost::config::internal {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Field accessors are generic lambdas, `[](auto& c) -> auto& { return c.sync.interval; }`,
// so one accessor serves both the setter (Config&) and the getter (const Config&).

std::string Quoted(std::string_view text) { return QuoteToml(text); }

template <typename Field>
Key DurationKey(std::string_view name, std::string_view comment, Field field, Duration min) {
  Key key{name, ValueKind::kDuration, comment, nullptr, nullptr};
  key.set = [field, min](Config& config, const Value& value) -> Status {
    const std::string& text = std::get<std::string>(value);
    OUTPOST_ASSIGN_OR_RETURN(Duration d, ParseDuration(text));
    if (d < min) {
      if (min == milliseconds(1)) return InvalidArgument(Quoted(text) + " must be greater than 0s");
      return InvalidArgument(Quoted(text) + " is below the minimum of " + FormatDuration(min));
    }
    field(config) = d;
    return Status::Ok();
  };
  key.get = [field](const Config& config) -> Value { return FormatDuration(field(config)); };
  return key;
}

template <typename Field>
Key IntegerKey(std::string_view name, std::string_view comment, Field field, std::int64_t min,
               std::int64_t max) {
  Key key{name, ValueKind::kInteger, comment, nullptr, nullptr};
  key.set = [field, min, max](Config& config, const Value& value) -> Status {
    const std::int64_t n = std::get<std::int64_t>(value);
    if (n < min || n > max) {
      return InvalidArgument(std::to_string(n) + " is out of range; accepted: " +
                             std::to_string(min) + " to " + std::to_string(max));
    }
    using T = std::remove_cvref_t<decltype(field(config))>;
    field(config) = static_cast<T>(n);
    return Status::Ok();
  };
  key.get = [field](const Config& config) -> Value {
    return static_cast<std::int64_t>(field(config));
  };
  return key;
}

// A key stored as some type T that is spelled as a TOML string. `parse` maps the text to
// Result<T> (with the key's rules); `format` maps T back to the text.
template <typename Field, typename Parse, typename Format>
Key TextKey(std::string_view name, std::string_view comment, Field field, Parse parse,
            Format format) {
  Key key{name, ValueKind::kString, comment, nullptr, nullptr};
  key.set = [field, parse](Config& config, const Value& value) -> Status {
    auto parsed = parse(std::get<std::string>(value));
    if (!parsed.ok()) return parsed.status();
    field(config) = std::move(parsed).value();
    return Status::Ok();
  };
  key.get = [field, format](const Config& config) -> Value {
    return std::string(format(field(config)));
  };
  return key;
}

template <typename Field>
Key BooleanKey(std::string_view name, std::string_view comment, Field field) {
  Key key{name, ValueKind::kBoolean, comment, nullptr, nullptr};
  key.set = [field](Config& config, const Value& value) -> Status {
    field(config) = std::get<bool>(value);
    return Status::Ok();
  };
  key.get = [field](const Config& config) -> Value { return static_cast<bool>(field(config)); };
  return key;
}

template <typename Field, typename Check>
Key StringListKey(std::string_view name, std::string_view comment, Field field, Check check) {
  Key key{name, ValueKind::kStringList, comment, nullptr, nullptr};
  key.set = [field, check](Config& config, const Value& value) -> Status {
    const auto& items = std::get<std::vector<std::string>>(value);
    OUTPOST_RETURN_IF_ERROR(check(items));
    field(config) = items;
    return Status::Ok();
  };
  key.get = [field](const Config& config) -> Value { return field(config); };
  return key;
}

bool HasControlCharacter(std::string_view text) {
  return std::any_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

Result<ListenAddress> ParseListen(const std::string& text) { return ParseListenAddress(text); }
std::string FormatListen(const ListenAddress& address) { return address.ToString(); }

Result<std::filesystem::path> ParsePath(const std::string& text) {
  if (text.empty()) return InvalidArgument("a path must not be empty");
  if (HasControlCharacter(text)) {
    return InvalidArgument(Quoted(text) + " contains control characters; accepted: a file path");
  }
  return std::filesystem::path(text);
}
std::string FormatPath(const std::filesystem::path& path) { return path.string(); }

Result<TlsVersion> ParseTlsVersion(const std::string& text) {
  if (text == "1.2") return TlsVersion::kTls12;
  if (text == "1.3") return TlsVersion::kTls13;
  return InvalidArgument(Quoted(text) + " is not a TLS version; accepted: \"1.2\", \"1.3\"");
}
std::string FormatTlsVersion(TlsVersion v) { return v == TlsVersion::kTls13 ? "1.3" : "1.2"; }

Result<Durability> ParseDurability(const std::string& text) {
  if (text == "full") return Durability::kFull;
  if (text == "normal") return Durability::kNormal;
  return InvalidArgument(Quoted(text) +
                         " is not a durability level; accepted: \"full\", \"normal\"");
}
std::string FormatDurability(Durability d) { return d == Durability::kNormal ? "normal" : "full"; }

Result<SyncMode> ParseSyncMode(const std::string& text) {
  if (text == "offline") return SyncMode::kOffline;
  if (text == "online") return SyncMode::kOnline;
  return InvalidArgument(Quoted(text) + " is not a sync mode; accepted: \"offline\", \"online\"");
}
std::string FormatSyncMode(SyncMode m) { return m == SyncMode::kOnline ? "online" : "offline"; }

Result<std::string> ParseCentralUrl(const std::string& text) {
  constexpr std::string_view kScheme = "https://";
  if (text.empty()) return text;
  if (text.rfind(kScheme, 0) != 0 || text.size() == kScheme.size() ||
      text.find_first_of(" \t") != std::string::npos || HasControlCharacter(text)) {
    return InvalidArgument(Quoted(text) +
                           " is not an https:// URL; accepted: \"\" or e.g. "
                           "\"https://central.example.com\"");
  }
  return text;
}

Result<std::string> CheckSyslogUrl(const std::string& text) {
  if (!text.empty()) OUTPOST_RETURN_IF_ERROR(ParseSyslogUrl(text).status());
  return text;
}

Result<std::string> CheckOptionalPath(const std::string& text) {
  if (HasControlCharacter(text)) {
    return InvalidArgument(Quoted(text) + " contains control characters; accepted: a file path");
  }
  return text;
}

// RFC 5424's HOSTNAME: 1 to 255 printable US-ASCII characters, no space.
Result<std::string> CheckSyslogHostname(const std::string& text) {
  if (text.size() > 255) return InvalidArgument("is longer than 255 characters");
  for (unsigned char c : text) {
    if (c < 33 || c > 126) {
      return InvalidArgument(Quoted(text) +
                             " is not a syslog host name; accepted: printable ASCII without "
                             "spaces, e.g. \"sat-01.plant.example\"");
    }
  }
  return text;
}

Result<std::string> CheckProxyUrl(const std::string& text) {
  if (!text.empty()) OUTPOST_RETURN_IF_ERROR(ParseProxyUrl(text).status());
  return text;
}

template <std::size_t N>
auto OneOf(std::string_view what, std::array<std::string_view, N> accepted) {
  return [what, accepted](const std::string& text) -> Result<std::string> {
    if (std::find(accepted.begin(), accepted.end(), text) != accepted.end()) return text;
    std::string list;
    for (std::string_view a : accepted) list += (list.empty() ? "" : ", ") + Quoted(a);
    return InvalidArgument(Quoted(text) + " is not a " + std::string(what) + "; accepted: " + list);
  };
}
std::string Identity(const std::string& text) { return text; }

Status CheckHostnames(const std::vector<std::string>& names) {
  if (names.empty()) return InvalidArgument("the list is empty; name at least one host");
  for (const std::string& name : names) {
    const bool ok = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '-' || c == ':' || c == '*' || c == '_';
    });
    if (!ok) {
      return InvalidArgument(Quoted(name) +
                             " is not a host name or address; accepted: e.g. \"localhost\", "
                             "\"sat.example.com\", \"10.0.0.5\", \"::1\"");
    }
  }
  return Status::Ok();
}

constexpr Duration kPositive = milliseconds(1);
constexpr Duration kAny = Duration::zero();

std::vector<Key> MakeKeys() {
  return {
      TextKey(
          "listen",
          "Address the satellite serves HTTPS on: HOST:PORT, IPv6 as [::1]:8443, port 0 = any free "
          "port.",
          [](auto& c) -> auto& { return c.listen; }, ParseListen, FormatListen),

      TextKey(
          "tls.certificate",
          "Server certificate chain (PEM). Relative paths are inside the data directory.",
          [](auto& c) -> auto& { return c.tls.certificate; }, ParsePath, FormatPath),
      TextKey(
          "tls.private_key", "Private key of the server certificate (PEM, mode 0600).",
          [](auto& c) -> auto& { return c.tls.private_key; }, ParsePath, FormatPath),
      TextKey(
          "tls.client_ca",
          "CA certificate that device ID certificates chain to (the satellite CA).",
          [](auto& c) -> auto& { return c.tls.client_ca; }, ParsePath, FormatPath),
      StringListKey(
          "tls.hostnames",
          "Names and addresses devices use to reach this satellite (put in its certificate).",
          [](auto& c) -> auto& { return c.tls.hostnames; }, CheckHostnames),
      TextKey(
          "tls.min_version", "Oldest TLS version accepted: \"1.2\" or \"1.3\".",
          [](auto& c) -> auto& { return c.tls.min_version; }, ParseTlsVersion, FormatTlsVersion),
      DurationKey(
          "tls.renew_before",
          "Renew the satellite-issued server certificate when it expires within this.",
          [](auto& c) -> auto& { return c.tls.renew_before; }, std::chrono::hours(1)),

      IntegerKey(
          "server.io_threads", "Threads serving connections; 0 = one per CPU core.",
          [](auto& c) -> auto& { return c.server.io_threads; }, 0, 1024),
      IntegerKey(
          "server.max_connections", "Most connections open at once.",
          [](auto& c) -> auto& { return c.server.max_connections; }, 1, 10'000'000),
      IntegerKey(
          "server.max_connections_per_address",
          "Most connections open at once from one client address.",
          [](auto& c) -> auto& { return c.server.max_connections_per_address; }, 1, 10'000'000),
      IntegerKey(
          "server.login_rate_per_minute",
          "Password logins accepted per client address per minute (bursts up to this).",
          [](auto& c) -> auto& { return c.server.login_rate_per_minute; }, 1, 1'000'000),
      IntegerKey(
          "server.max_queued_password_checks",
          "Password checks waiting at once; more are answered 503 with Retry-After.",
          [](auto& c) -> auto& { return c.server.max_queued_password_checks; }, 1, 100'000),
      IntegerKey(
          "server.max_body_bytes", "Largest request body accepted, in bytes.",
          [](auto& c) -> auto& { return c.server.max_body_bytes; }, 1, std::int64_t{1} << 30),
      IntegerKey(
          "server.max_header_bytes", "Largest request header accepted, in bytes.",
          [](auto& c) -> auto& { return c.server.max_header_bytes; }, 1, std::int64_t{1} << 20),
      IntegerKey(
          "server.max_pipelined_requests",
          "Requests a client may send on one connection before reading answers.",
          [](auto& c) -> auto& { return c.server.max_pipelined_requests; }, 1, 1024),
      DurationKey(
          "server.handshake_timeout", "Time allowed for a TLS handshake.",
          [](auto& c) -> auto& { return c.server.handshake_timeout; }, kPositive),
      DurationKey(
          "server.read_timeout", "Time allowed to receive one request.",
          [](auto& c) -> auto& { return c.server.read_timeout; }, kPositive),
      DurationKey(
          "server.write_timeout", "Time allowed to send one response.",
          [](auto& c) -> auto& { return c.server.write_timeout; }, kPositive),
      DurationKey(
          "server.idle_timeout", "Idle keep-alive connections are closed after this.",
          [](auto& c) -> auto& { return c.server.idle_timeout; }, kPositive),
      BooleanKey(
          "server.metrics_require_auth",
          "true: /metrics needs an API key (any role; see docs/security.md); false: it is open "
          "to anyone who reaches the port.",
          [](auto& c) -> auto& { return c.server.metrics_require_auth; }),
      DurationKey(
          "server.shutdown_grace",
          "On shutdown, time given to requests in flight; 0s = close at once.",
          [](auto& c) -> auto& { return c.server.shutdown_grace; }, kAny),

      TextKey(
          "sync.mode",
          "\"offline\": sync files carried across the air gap; \"online\": HTTPS to central_url.",
          [](auto& c) -> auto& { return c.sync.mode; }, ParseSyncMode, FormatSyncMode),
      TextKey(
          "sync.central_url", "Central's URL (https://); required when mode is \"online\".",
          [](auto& c) -> auto& { return c.sync.central_url; }, ParseCentralUrl, Identity),
      TextKey(
          "sync.proxy",
          "HTTP proxy for online sync, \"http://HOST:PORT\" or "
          "\"http://USER:PASSWORD@HOST:PORT\"; \"\" connects directly. TLS to central goes "
          "through it end to end (CONNECT).",
          [](auto& c) -> auto& { return c.sync.proxy; }, CheckProxyUrl, Identity),
      DurationKey(
          "sync.interval", "Time between online syncs.",
          [](auto& c) -> auto& { return c.sync.interval; }, kPositive),
      DurationKey(
          "sync.jitter", "Random delay added to each online sync; at most interval.",
          [](auto& c) -> auto& { return c.sync.jitter; }, kAny),
      DurationKey(
          "sync.max_backoff", "Longest wait between retries after failed online syncs.",
          [](auto& c) -> auto& { return c.sync.max_backoff; }, kPositive),

      DurationKey(
          "policy.authorization_validity",
          "How long a signed authorization is valid (valid_until).",
          [](auto& c) -> auto& { return c.policy.authorization_validity; }, kPositive),
      DurationKey(
          "policy.authorization_renewal",
          "Devices renew authorizations after this (renew_after); less than validity.",
          [](auto& c) -> auto& { return c.policy.authorization_renewal; }, kPositive),
      DurationKey(
          "policy.floating_lease",
          "Lease of a floating license, renewed by heartbeat; at least 1m.",
          [](auto& c) -> auto& { return c.policy.floating_lease; }, seconds(60)),
      DurationKey(
          "policy.certificate_validity", "Validity of device ID certificates.",
          [](auto& c) -> auto& { return c.policy.certificate_validity; }, kPositive),
      DurationKey(
          "policy.certificate_renewal",
          "Devices renew ID certificates after this; less than validity.",
          [](auto& c) -> auto& { return c.policy.certificate_renewal; }, kPositive),
      IntegerKey(
          "policy.token_default_expiry_days",
          "Expiry of a new registration token when none is given, in days.",
          [](auto& c) -> auto& { return c.policy.token_default_expiry_days; }, 1, 365),
      IntegerKey(
          "policy.token_max_expiry_days",
          "Longest expiry a registration token may have, in days (1 to 365).",
          [](auto& c) -> auto& { return c.policy.token_max_expiry_days; }, 1, 365),
      DurationKey(
          "policy.clock_rollback_tolerance",
          "The clock going back by more than this raises CLOCK_ROLLBACK.",
          [](auto& c) -> auto& { return c.policy.clock_rollback_tolerance; }, kAny),
      IntegerKey(
          "policy.registration_rate_per_minute",
          "Device registrations accepted per minute; more are refused.",
          [](auto& c) -> auto& { return c.policy.registration_rate_per_minute; }, 1, 1'000'000),

      TextKey(
          "database.synchronous",
          "\"full\": every commit reaches the disk before it is acknowledged (survives power "
          "loss); \"normal\": commits reach the disk at checkpoints (survives kill -9 and "
          "crashes, a power loss may undo the last commits; several times faster on slow disks).",
          [](auto& c) -> auto& { return c.database.synchronous; }, ParseDurability,
          FormatDurability),

      TextKey(
          "log.level", "Least severe messages logged: trace, debug, info, warn or error.",
          [](auto& c) -> auto& { return c.log.level; },
          OneOf<5>("log level", {"trace", "debug", "info", "warn", "error"}), Identity),
      TextKey(
          "log.format", "\"text\" for people, \"json\" for one JSON object per line.",
          [](auto& c) -> auto& { return c.log.format; }, OneOf<2>("log format", {"text", "json"}),
          Identity),

      TextKey(
          "audit.syslog_url",
          "Forward every audit record to a syslog collector (RFC 5424): \"tcp://HOST:PORT\" or "
          "\"tls://HOST:PORT\"; \"\" = off.",
          [](auto& c) -> auto& { return c.audit.syslog_url; }, CheckSyslogUrl, Identity),
      TextKey(
          "audit.syslog_ca",
          "For tls://: the collector's CA certificate (PEM file); relative to the data directory.",
          [](auto& c) -> auto& { return c.audit.syslog_ca; }, CheckOptionalPath, Identity),
      TextKey(
          "audit.syslog_hostname",
          "HOSTNAME in each syslog message; \"\" = this machine's host name.",
          [](auto& c) -> auto& { return c.audit.syslog_hostname; }, CheckSyslogHostname, Identity),
  };
}

std::size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The candidate closest to `name` within two edits, or "" if none is that close.
std::string Closest(std::string_view name, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = 3;
  for (const std::string& candidate : candidates) {
    const std::size_t d = EditDistance(name, candidate);
    if (d < best_distance) {
      best = candidate;
      best_distance = d;
    }
  }
  return best;
}

std::string DidYouMeanKey(std::string_view name) {
  std::vector<std::string> keys;
  for (const Key& key : Keys()) keys.emplace_back(key.name);
  const std::string best = Closest(name, keys);
  return best.empty() ? "" : " (did you mean '" + best + "'?)";
}

std::string KnownTablesList() {
  std::string out;
  for (std::string_view section : Sections()) {
    out += (out.empty() ? "[" : ", [") + std::string(section) + "]";
  }
  return out;
}

std::string KnownKeysIn(std::string_view section) {
  std::string out;
  for (const Key& key : Keys()) {
    if (key.section() == section) out += (out.empty() ? "" : ", ") + std::string(key.leaf());
  }
  return out;
}

}  // namespace

std::string_view Key::section() const {
  const std::size_t dot = name.find('.');
  return dot == std::string_view::npos ? std::string_view() : name.substr(0, dot);
}

std::string_view Key::leaf() const {
  const std::size_t dot = name.find('.');
  return dot == std::string_view::npos ? name : name.substr(dot + 1);
}

const std::vector<Key>& Keys() {
  static const std::vector<Key> kKeys = MakeKeys();
  return kKeys;
}

const Key* FindKey(std::string_view dotted_name) {
  for (const Key& key : Keys()) {
    if (key.name == dotted_name) return &key;
  }
  return nullptr;
}

std::vector<std::string_view> Sections() {
  std::vector<std::string_view> sections;
  for (const Key& key : Keys()) {
    const std::string_view section = key.section();
    if (!section.empty() &&
        std::find(sections.begin(), sections.end(), section) == sections.end()) {
      sections.push_back(section);
    }
  }
  return sections;
}

bool IsSection(std::string_view name) {
  const auto sections = Sections();
  return !name.empty() && std::find(sections.begin(), sections.end(), name) != sections.end();
}

std::string EnvironmentName(const Key& key) {
  std::string out = "OUTPOST_";
  for (char c : key.name) {
    out += c == '.' ? '_' : static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  }
  return out;
}

std::string_view DescribeKind(ValueKind kind) {
  switch (kind) {
    case ValueKind::kString:
      return "a string";
    case ValueKind::kInteger:
      return "an integer";
    case ValueKind::kDuration:
      return "a duration string such as \"30s\" or \"1h30m\"";
    case ValueKind::kStringList:
      return "an array of strings such as [\"localhost\"]";
    case ValueKind::kBoolean:
      return "a boolean (true or false, without quotes)";
  }
  return "a value";
}

Result<Value> ValueFromText(const Key& key, std::string_view text) {
  switch (key.kind) {
    case ValueKind::kString:
    case ValueKind::kDuration:
      return Value(std::string(text));
    case ValueKind::kInteger: {
      std::int64_t n = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
        return InvalidArgument(Quoted(text) + " is not an integer");
      }
      return Value(n);
    }
    case ValueKind::kStringList: {
      std::vector<std::string> items;
      std::size_t begin = 0;
      while (!text.empty() && begin <= text.size()) {
        std::size_t end = text.find(',', begin);
        if (end == std::string_view::npos) end = text.size();
        std::string_view item = text.substr(begin, end - begin);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        items.emplace_back(item);
        begin = end + 1;
      }
      return Value(std::move(items));
    }
    case ValueKind::kBoolean:
      // Exactly TOML's spellings: "yes", "1" or "TRUE" may mean something else to a reader.
      if (text == "true") return Value(true);
      if (text == "false") return Value(false);
      return InvalidArgument(Quoted(text) + " is not a boolean; accepted: true, false");
  }
  return InvalidArgument("unsupported key kind");
}

std::string QuoteToml(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = "\"";
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          out += "\\u00";
          out += kHex[u >> 4];
          out += kHex[u & 0xf];
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::string RenderValue(ValueKind kind, const Value& value) {
  switch (kind) {
    case ValueKind::kString:
    case ValueKind::kDuration:
      return QuoteToml(std::get<std::string>(value));
    case ValueKind::kInteger:
      return std::to_string(std::get<std::int64_t>(value));
    case ValueKind::kStringList: {
      std::string out = "[";
      for (const std::string& item : std::get<std::vector<std::string>>(value)) {
        if (out.size() > 1) out += ", ";
        out += QuoteToml(item);
      }
      return out + "]";
    }
    case ValueKind::kBoolean:
      return std::get<bool>(value) ? "true" : "false";
  }
  return "\"\"";
}

std::string JoinLines(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) {
    if (!out.empty()) out += '\n';
    out += line;
  }
  return out;
}

std::string UnknownKeyMessage(std::string_view dotted_name) {
  if (dotted_name == "data_dir") {
    return "'data_dir' is not a configuration key: the data directory is given with --data-dir";
  }
  const std::string name(dotted_name);
  const std::size_t dot = dotted_name.find('.');
  const std::string_view section =
      dot == std::string_view::npos ? std::string_view() : dotted_name.substr(0, dot);
  if (IsSection(section)) {
    return "unknown key '" + name + "'" + DidYouMeanKey(name) + "; known keys in [" +
           std::string(section) + "]: " + KnownKeysIn(section);
  }
  if (IsSection(dotted_name)) {
    return "'" + name + "' is a table, not a key; known keys in [" + name +
           "]: " + KnownKeysIn(dotted_name);
  }
  return "unknown key '" + name + "'" + DidYouMeanKey(name) +
         "; known top-level keys: " + KnownKeysIn("") + "; known tables: " + KnownTablesList();
}

std::string UnknownTableMessage(std::string_view name) {
  std::vector<std::string> sections;
  for (std::string_view section : Sections()) sections.emplace_back(section);
  const std::string best = Closest(name, sections);
  return "unknown table [" + std::string(name) + "]" +
         (best.empty() ? "" : " (did you mean [" + best + "]?)") +
         "; known tables: " + KnownTablesList();
}

}  // namespace outpost::config::internal
