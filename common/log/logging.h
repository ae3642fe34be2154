#pragma once

#include <spdlog/common.h>

#include <concepts>
#include <initializer_list>
#include <string>
#include <string_view>

#include "common/status.h"

// Process-wide logging on spdlog's default logger (the one allowed singleton).
//
// Text lines, for people:   2026-11-28T15:12:22.123Z info  request route=/healthz status=200
// JSON lines, for machines: {"ts":"2026-11-28T15:12:22.123Z","level":"info","msg":"request",
//                            "route":"/healthz","status":200}
// Times are UTC with milliseconds. Levels: trace, debug, info, warn, error, critical. Control
// characters in messages and values are escaped in both formats, so one call is one line.
// Plain spdlog calls (spdlog::info("...")) go through the same formatter, without fields.
namespace outpost::log {

enum class LogFormat { kText, kJson };

// "text" or "json"; InvalidArgument naming the text otherwise.
Result<LogFormat> ParseLogFormat(std::string_view text);
// "trace", "debug", "info", "warn" or "error"; InvalidArgument naming the text otherwise.
Result<spdlog::level::level_enum> ParseLogLevel(std::string_view text);

// Replaces spdlog's default logger with one that writes `format` at `level` and above to
// `sink`, or to stderr when `sink` is null (text in colour only when stderr is a terminal).
// Sets the sink's formatter. A sink must format in its log() call, as spdlog's console, file
// and stream sinks do (fields live only for the duration of the call; so no async loggers and
// no ring buffers). On error the current logger is kept.
Status InitLogging(LogFormat format, std::string_view level, spdlog::sink_ptr sink = nullptr);

// One key/value added to a log line: `key=value` in text, a member of the object in JSON
// (integers and booleans as JSON numbers and literals, everything else as strings). Keys
// "ts", "level" and "msg" are written as "_ts", "_level", "_msg" in JSON.
struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  template <std::integral T>
  Field(std::string_view k, T v)
      : key(k),
        value(std::is_same_v<T, bool> ? (v ? "true" : "false") : std::to_string(v)),
        literal(true) {}

  std::string_view key;
  std::string value;
  bool literal = false;  // written without quotes in JSON
};
using Fields = std::initializer_list<Field>;

// Logs `message` with `fields` on the default logger, if `level` is enabled.
// Thread-safe. Example: log::Info("request", {{"route", "/healthz"}, {"status", 200}});
void Log(spdlog::level::level_enum level, std::string_view message, Fields fields = {});
inline void Trace(std::string_view m, Fields f = {}) { Log(spdlog::level::trace, m, f); }
inline void Debug(std::string_view m, Fields f = {}) { Log(spdlog::level::debug, m, f); }
inline void Info(std::string_view m, Fields f = {}) { Log(spdlog::level::info, m, f); }
inline void Warn(std::string_view m, Fields f = {}) { Log(spdlog::level::warn, m, f); }
inline void Error(std::string_view m, Fields f = {}) { Log(spdlog::level::err, m, f); }

}  // namespace outpost::log
