#pragma once

// Internal to outpost_common_config: the one table of configuration keys that parsing,
// overrides, the environment, rendering and Validate() all walk.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/config/config.h"
#include "common/status.h"

namespace outpost::config::internal {

// How a key is spelled in TOML. Durations are TOML strings ("30s"); booleans are TOML's true
// and false (in flags and the environment: exactly "true" or "false").
enum class ValueKind { kString, kInteger, kDuration, kStringList, kBoolean };

// A key's value before its own rules are applied; the alternative follows ValueKind
// (string for kString and kDuration).
using Value = std::variant<std::string, std::int64_t, std::vector<std::string>, bool>;

struct Key {
  std::string_view name;  // dotted: "listen", "sync.mode"
  ValueKind kind;
  std::string_view comment;  // one line, written above the key by RenderConfig
  // Checks the key's own rules and stores the value; on error leaves `config` unchanged and
  // returns InvalidArgument that names the value and what is accepted, but not the key.
  std::function<Status(Config& config, const Value& value)> set;
  std::function<Value(const Config& config)> get;

  std::string_view section() const;  // "" for top-level keys
  std::string_view leaf() const;     // the name within its section
};

// All keys, top-level keys first, then grouped by section in file order.
const std::vector<Key>& Keys();
const Key* FindKey(std::string_view dotted_name);
// Section names in file order, without "".
std::vector<std::string_view> Sections();
bool IsSection(std::string_view name);

// "OUTPOST_SYNC_MODE" for "sync.mode".
std::string EnvironmentName(const Key& key);

// What a key of this kind looks like, for wrong-type messages.
std::string_view DescribeKind(ValueKind kind);

// Converts flag or environment text to a Value of the key's kind (integers in decimal,
// lists comma-separated with surrounding spaces trimmed, booleans "true" or "false" only).
Result<Value> ValueFromText(const Key& key, std::string_view text);

// The value as a TOML literal: "\"30s\"", "16", "[\"localhost\"]".
std::string RenderValue(ValueKind kind, const Value& value);
// A TOML basic string literal with escapes.
std::string QuoteToml(std::string_view text);

// The lines joined with '\n' (how several problems are reported in one Status).
std::string JoinLines(const std::vector<std::string>& lines);

// "unknown key 'sync.intervall' (did you mean 'sync.interval'?); known keys in [sync]: ..."
std::string UnknownKeyMessage(std::string_view dotted_name);
// "unknown table [tsl] (did you mean [tls]?); known tables: [tls], [server], ..."
std::string UnknownTableMessage(std::string_view name);

}  // namespace outpost::config::internal
