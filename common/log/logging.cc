#include "common/log/logging.h"

#include <spdlog/formatter.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>

namespace outpost::log {
namespace {

using Buffer = spdlog::memory_buf_t;

// The fields of the Log() call in progress on this thread. Formatters run inside that call
// (sinks format synchronously, see InitLogging), so this is how fields reach them without
// encoding them into the message text.
thread_local const Fields* t_fields = nullptr;

class FieldsScope {
 public:
  explicit FieldsScope(const Fields* fields) : saved_(t_fields) { t_fields = fields; }
  ~FieldsScope() { t_fields = saved_; }
  FieldsScope(const FieldsScope&) = delete;
  FieldsScope& operator=(const FieldsScope&) = delete;

 private:
  const Fields* saved_;
};

void Append(Buffer& out, std::string_view text) {
  out.append(text.data(), text.data() + text.size());
}

std::string_view LevelName(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "critical";
    default:
      return "off";
  }
}

// 2026-11-28T15:12:22.123Z
void AppendTimestamp(Buffer& out, spdlog::log_clock::time_point time) {
  using namespace std::chrono;
  const auto millis = floor<milliseconds>(time);
  const auto day = floor<days>(millis);
  const year_month_day date(day);
  const hh_mm_ss clock(millis - day);
  fmt::format_to(std::back_inserter(out), "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                 static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                 static_cast<unsigned>(date.day()), clock.hours().count(), clock.minutes().count(),
                 clock.seconds().count(), clock.subseconds().count());
}

void AppendEscapedControl(Buffer& out, unsigned char c) {
  switch (c) {
    case '\b':
      Append(out, "\\b");
      return;
    case '\f':
      Append(out, "\\f");
      return;
    case '\n':
      Append(out, "\\n");
      return;
    case '\r':
      Append(out, "\\r");
      return;
    case '\t':
      Append(out, "\\t");
      return;
    default:
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<unsigned>(c));
  }
}

// Length of the valid UTF-8 sequence at the start of `s`, or 0 if it is not valid
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
std::size_t Utf8SequenceLength(std::string_view s) {
  const auto byte = [&s](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char lead = byte(0);
  std::size_t length = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xbf;  // bounds of the second byte
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) low = 0xa0;
    if (lead == 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) low = 0x90;
    if (lead == 0xf4) high = 0x8f;
  } else {
    return 0;
  }
  if (s.size() < length || byte(1) < low || byte(1) > high) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xbf) return 0;
  }
  return length;
}

// A JSON string literal. Valid UTF-8 passes through; invalid bytes become U+FFFD so that a
// line is always valid JSON, whatever a peer put into a message.
void AppendJsonString(Buffer& out, std::string_view s) {
  out.push_back('"');
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c == '"' || c == '\\') {
        out.push_back('\\');
        out.push_back(static_cast<char>(c));
      } else if (c < 0x20 || c == 0x7f) {
        AppendEscapedControl(out, c);
      } else {
        out.push_back(static_cast<char>(c));
      }
      ++i;
      continue;
    }
    const std::size_t length = Utf8SequenceLength(s.substr(i));
    if (length == 0) {
      Append(out, "\\ufffd");
      ++i;
    } else {
      Append(out, s.substr(i, length));
      i += length;
    }
  }
  out.push_back('"');
}

// Text lines keep everything printable as is but escape control characters, so that a
// message cannot forge a second line.
void AppendTextEscaped(Buffer& out, std::string_view s) {
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      AppendEscapedControl(out, c);
    } else {
      out.push_back(ch);
    }
  }
}

bool NeedsQuotes(std::string_view value) {
  if (value.empty()) return true;
  for (char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7f || ch == '"' || ch == '=' || ch == '\\') return true;
  }
  return false;
}

class TextFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, Buffer& dest) override {
    AppendTimestamp(dest, msg.time);
    dest.push_back(' ');
    const std::string_view level = LevelName(msg.level);
    msg.color_range_start = dest.size();
    Append(dest, level);
    msg.color_range_end = dest.size();
    for (std::size_t pad = level.size(); pad < 6; ++pad) dest.push_back(' ');
    AppendTextEscaped(dest, std::string_view(msg.payload.data(), msg.payload.size()));
    if (t_fields != nullptr) {
      for (const Field& field : *t_fields) {
        dest.push_back(' ');
        AppendTextEscaped(dest, field.key);
        dest.push_back('=');
        if (NeedsQuotes(field.value)) {
          AppendJsonString(dest, field.value);
        } else {
          Append(dest, field.value);
        }
      }
    }
    dest.push_back('\n');
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<TextFormatter>();
  }
};

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, Buffer& dest) override {
    Append(dest, "{\"ts\":\"");
    AppendTimestamp(dest, msg.time);
    Append(dest, "\",\"level\":\"");
    Append(dest, LevelName(msg.level));
    Append(dest, "\",\"msg\":");
    AppendJsonString(dest, std::string_view(msg.payload.data(), msg.payload.size()));
    if (t_fields != nullptr) {
      for (const Field& field : *t_fields) {
        dest.push_back(',');
        // Keep the three standard members unambiguous for log processors.
        const bool reserved = field.key == "ts" || field.key == "level" || field.key == "msg";
        AppendJsonString(dest, reserved ? "_" + std::string(field.key) : std::string(field.key));
        dest.push_back(':');
        if (field.literal) {
          Append(dest, field.value);
        } else {
          AppendJsonString(dest, field.value);
        }
      }
    }
    Append(dest, "}\n");
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

Result<LogFormat> ParseLogFormat(std::string_view text) {
  if (text == "text") return LogFormat::kText;
  if (text == "json") return LogFormat::kJson;
  return InvalidArgument("\"" + std::string(text) +
                         "\" is not a log format; accepted: \"text\", \"json\"");
}

Result<spdlog::level::level_enum> ParseLogLevel(std::string_view text) {
  if (text == "trace") return spdlog::level::trace;
  if (text == "debug") return spdlog::level::debug;
  if (text == "info") return spdlog::level::info;
  if (text == "warn") return spdlog::level::warn;
  if (text == "error") return spdlog::level::err;
  return InvalidArgument("\"" + std::string(text) +
                         "\" is not a log level; accepted: \"trace\", \"debug\", \"info\", "
                         "\"warn\", \"error\"");
}

Status InitLogging(LogFormat format, std::string_view level, spdlog::sink_ptr sink) {
  OUTPOST_ASSIGN_OR_RETURN(const spdlog::level::level_enum threshold, ParseLogLevel(level));
  if (sink == nullptr) {
    // color_mode::automatic colours only when stderr is a terminal that supports it.
    if (format == LogFormat::kText) {
      sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>(spdlog::color_mode::automatic);
    } else {
      sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    }
  }
  if (format == LogFormat::kText) {
    sink->set_formatter(std::make_unique<TextFormatter>());
  } else {
    sink->set_formatter(std::make_unique<JsonFormatter>());
  }
  auto logger = std::make_shared<spdlog::logger>("outpost", std::move(sink));
  logger->set_level(threshold);
  spdlog::set_default_logger(std::move(logger));
  return Status::Ok();
}

void Log(spdlog::level::level_enum level, std::string_view message, Fields fields) {
  spdlog::logger* logger = spdlog::default_logger_raw();
  if (logger == nullptr || !logger->should_log(level)) return;
  const FieldsScope scope(&fields);
  logger->log(level, spdlog::string_view_t(message.data(), message.size()));
}

}  // namespace outpost::log
