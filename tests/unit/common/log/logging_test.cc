#include "common/log/logging.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <vector>

#include "tests/testing/test_util.h"

namespace outpost::log {
namespace {

// Formats each message as it is logged (as the stderr sink does) and keeps the lines.
class CaptureSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::vector<std::string> Lines() {
    std::lock_guard<std::mutex> lock(mutex_);
    return lines_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t buffer;
    formatter_->format(msg, buffer);
    lines_.emplace_back(buffer.data(), buffer.size());
  }
  void flush_() override {}

 private:
  std::vector<std::string> lines_;
};

class LogTest : public ::testing::Test {
 protected:
  void TearDown() override {
    // Leave a logger that does not point at this test's sink.
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("null"));
  }

  std::shared_ptr<CaptureSink> Init(LogFormat format, std::string_view level) {
    auto sink = std::make_shared<CaptureSink>();
    EXPECT_OK(InitLogging(format, level, sink));
    return sink;
  }

  // The single captured line parsed as a JSON object.
  static boost::json::object ParseLine(const std::string& line) {
    EXPECT_FALSE(line.empty());
    EXPECT_EQ(line.back(), '\n');
    EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line per message: " << line;
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(line, ec);
    EXPECT_FALSE(ec) << ec.message() << " in " << line;
    EXPECT_TRUE(v.is_object()) << line;
    return v.is_object() ? v.as_object() : boost::json::object();
  }
};

TEST_F(LogTest, JsonLineHasTimestampLevelAndMessage) {
  auto sink = Init(LogFormat::kJson, "info");
  Info("server started");
  ASSERT_EQ(sink->Lines().size(), 1u);
  const boost::json::object o = ParseLine(sink->Lines()[0]);
  EXPECT_EQ(o.at("level").as_string(), "info");
  EXPECT_EQ(o.at("msg").as_string(), "server started");
  const std::string ts(o.at("ts").as_string());
  EXPECT_TRUE(std::regex_match(ts, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"))) << ts;
  EXPECT_EQ(sink->Lines()[0].rfind("{\"ts\":", 0), 0u);
}

TEST_F(LogTest, JsonEscapesQuotesBackslashesAndControlCharacters) {
  auto sink = Init(LogFormat::kJson, "info");
  const std::string tricky = "say \"hi\"\\ now\nsecond line\r\ttab \x01 end";
  Info(tricky);
  spdlog::info("brace {} and {}", "kept", 42);
  const auto lines = sink->Lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(ParseLine(lines[0]).at("msg").as_string(), tricky);
  EXPECT_EQ(ParseLine(lines[1]).at("msg").as_string(), "brace kept and 42");
}

TEST_F(LogTest, JsonPassesUtf8ThroughAndReplacesInvalidBytes) {
  auto sink = Init(LogFormat::kJson, "info");
  Info("Grüße 東京 🚀");
  Info(std::string("bad \xff\xc3 byte \xed\xa0\x80 surrogate"));
  const auto lines = sink->Lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("Grüße 東京 🚀"), std::string::npos) << "not \\u-escaped";
  EXPECT_EQ(ParseLine(lines[0]).at("msg").as_string(), "Grüße 東京 🚀");
  EXPECT_EQ(ParseLine(lines[1]).at("msg").as_string(),
            "bad \xef\xbf\xbd\xef\xbf\xbd byte \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd surrogate");
}

TEST_F(LogTest, JsonFieldsBecomeMembers) {
  auto sink = Init(LogFormat::kJson, "info");
  const std::string route = "/v1/devices/\"register\"";
  Info("request", {{"route", route}, {"status", 200}, {"tls", true}, {"msg", "shadow"}});
  const boost::json::object o = ParseLine(sink->Lines().at(0));
  EXPECT_EQ(o.at("msg").as_string(), "request");
  EXPECT_EQ(o.at("route").as_string(), route);
  EXPECT_EQ(o.at("status").as_int64(), 200);
  EXPECT_EQ(o.at("tls").as_bool(), true);
  EXPECT_EQ(o.at("_msg").as_string(), "shadow");
}

TEST_F(LogTest, TextLineShowsLevelMessageAndFields) {
  auto sink = Init(LogFormat::kText, "info");
  Warn("request", {{"route", "/healthz"}, {"status", 200}, {"note", "two words"}});
  const auto lines = sink->Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(std::regex_match(lines[0],
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z warn  request )"
                                          R"(route=/healthz status=200 note="two words"\n)")))
      << lines[0];
}

TEST_F(LogTest, TextEscapesNewlinesSoOneMessageIsOneLine) {
  auto sink = Init(LogFormat::kText, "info");
  Error("first\nforged 2026-01-01T00:00:00.000Z info  line");
  const auto lines = sink->Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].find('\n'), lines[0].size() - 1);
  EXPECT_NE(lines[0].find("error first\\nforged"), std::string::npos) << lines[0];
}

TEST_F(LogTest, MessagesBelowTheLevelAreDropped) {
  auto sink = Init(LogFormat::kJson, "warn");
  Trace("t");
  Debug("d");
  Info("i");
  Warn("w");
  Error("e");
  spdlog::info("plain info");
  spdlog::error("plain error");
  const auto lines = sink->Lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(ParseLine(lines[0]).at("level").as_string(), "warn");
  EXPECT_EQ(ParseLine(lines[1]).at("level").as_string(), "error");
  EXPECT_EQ(ParseLine(lines[2]).at("msg").as_string(), "plain error");
}

TEST_F(LogTest, TraceLevelLetsEverythingThrough) {
  auto sink = Init(LogFormat::kJson, "trace");
  Trace("t");
  Debug("d");
  ASSERT_EQ(sink->Lines().size(), 2u);
  EXPECT_EQ(ParseLine(sink->Lines()[0]).at("level").as_string(), "trace");
  EXPECT_EQ(ParseLine(sink->Lines()[1]).at("level").as_string(), "debug");
}

TEST_F(LogTest, FieldsDoNotLeakIntoLaterPlainMessages) {
  auto sink = Init(LogFormat::kJson, "info");
  Info("with", {{"k", "v"}});
  spdlog::info("without");
  const auto lines = sink->Lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(ParseLine(lines[0]).contains("k"));
  EXPECT_FALSE(ParseLine(lines[1]).contains("k"));
}

TEST_F(LogTest, BadFormatAndLevelAreErrorsThatKeepTheLogger) {
  auto sink = Init(LogFormat::kJson, "info");
  Result<LogFormat> format = ParseLogFormat("xml");
  ASSERT_FALSE(format.ok());
  EXPECT_EQ(format.status().code(), Errc::kInvalidArgument);
  EXPECT_NE(format.status().message().find("\"xml\" is not a log format"), std::string::npos);

  const Status s = InitLogging(LogFormat::kText, "verbose", std::make_shared<CaptureSink>());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Errc::kInvalidArgument);
  EXPECT_NE(s.message().find("\"verbose\" is not a log level"), std::string::npos);
  EXPECT_FALSE(ParseLogLevel("warning").ok());
  EXPECT_FALSE(ParseLogLevel("INFO").ok());

  Info("still here");
  ASSERT_EQ(sink->Lines().size(), 1u);
}

TEST_F(LogTest, ParsesEveryFormatAndLevelName) {
  EXPECT_EQ(*ParseLogFormat("text"), LogFormat::kText);
  EXPECT_EQ(*ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_EQ(*ParseLogLevel("trace"), spdlog::level::trace);
  EXPECT_EQ(*ParseLogLevel("debug"), spdlog::level::debug);
  EXPECT_EQ(*ParseLogLevel("info"), spdlog::level::info);
  EXPECT_EQ(*ParseLogLevel("warn"), spdlog::level::warn);
  EXPECT_EQ(*ParseLogLevel("error"), spdlog::level::err);
}

}  // namespace
}  // namespace outpost::log
