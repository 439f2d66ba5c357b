#include "handover/logging/log.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "handover/logging/request_context.hpp"

namespace handover::logging {
namespace {

TEST(Sanitize, EscapesControlCharactersAndInvalidBytes) {
  struct Case {
    const char* name;
    std::string in;
    std::string out;
  };
  const Case cases[] = {
      {"plain", "GET", "GET"},
      {"newline injection", "a\nlevel=error fake", "a\\nlevel=error fake"},
      {"carriage return and tab", "a\r\tb", "a\\r\\tb"},
      {"nul and escape", std::string("a\0b\x1b", 4), "a\\x00b\\x1b"},
      {"valid utf8 kept", "K\xc3\xbcndigung", "K\xc3\xbcndigung"},
      {"invalid utf8 escaped", "a\xff", "a\\xff"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(sanitize(c.in), c.out);
  }
}

TEST(Sanitize, CutsLongTextOnACodePointBoundary) {
  const std::string text = "ab\xc3\xbc" + std::string(10, 'x');

  EXPECT_EQ(sanitize(text, 3), "ab...");
  EXPECT_EQ(sanitize(text, 4), "ab\xc3\xbc...");
}

TEST(Configure, RejectsUnknownLevelAndFormat) {
  EXPECT_FALSE(configure("loud", "text").is_ok());
  EXPECT_FALSE(configure("info", "xml").is_ok());
  EXPECT_TRUE(configure("info", "json").is_ok());
}

// Configures logging into a string for one test, and back to stderr text afterwards.
class LineTest : public ::testing::Test {
 protected:
  void use(std::string_view format) {
    ASSERT_TRUE(
        configure("info", format, std::make_shared<spdlog::sinks::ostream_sink_st>(out_)).is_ok());
  }
  void TearDown() override { ASSERT_TRUE(configure("info", "text").is_ok()); }

  std::string written() { return out_.str(); }

  std::ostringstream out_;
};

Line access_line() {
  Line line("access");
  line.field("method", "POST")
      .field("route", "/v1/conversations/{id}/turns")
      .field("status", 201)
      .field("duration_ms", 12.3456, 3)
      .field("bytes_in", std::size_t{42})
      .field("remote", "a\"b");
  return line;
}

TEST_F(LineTest, JsonGivesEachFieldItsOwnKey) {
  use("json");

  write(spdlog::level::info, access_line());

  const auto j = nlohmann::json::parse(written());
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["msg"], "access");
  EXPECT_EQ(j["method"], "POST");
  EXPECT_EQ(j["route"], "/v1/conversations/{id}/turns");
  EXPECT_EQ(j["status"], 201);
  EXPECT_DOUBLE_EQ(j["duration_ms"].get<double>(), 12.346);
  EXPECT_EQ(j["bytes_in"], 42);
  EXPECT_EQ(j["remote"], "a\"b");
  EXPECT_TRUE(j.contains("ts"));
}

TEST_F(LineTest, TextKeepsTheKeyValueLine) {
  use("text");

  write(spdlog::level::info, access_line());

  const std::string line = written();
  EXPECT_NE(line.find(" info access method=POST route=/v1/conversations/{id}/turns status=201 "
                      "duration_ms=12.346 bytes_in=42 remote=a\"b\n"),
            std::string::npos)
      << line;
}

TEST_F(LineTest, PlainMessagesStayInMsgInJson) {
  use("json");

  spdlog::info("store open path={}", "x.db");

  EXPECT_EQ(nlohmann::json::parse(written())["msg"], "store open path=x.db");
}

// Each line as a JSON object.
std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

TEST_F(LineTest, JsonLinesWrittenForARequestCarryItsId) {
  use("json");

  spdlog::warn("before");
  {
    RequestScope outer("5f1e09-2a");
    spdlog::warn("store failed");
    {
      RequestScope inner("quoted\"id");
      write(spdlog::level::warn, Line("nested").field("conv", "c_1"));
    }
    spdlog::error("after the inner scope");
  }
  spdlog::warn("after");

  const auto lines = json_lines(written());
  ASSERT_EQ(lines.size(), 5u) << written();
  EXPECT_FALSE(lines[0].contains("request_id"));
  EXPECT_EQ(lines[1]["msg"], "store failed");
  EXPECT_EQ(lines[1]["request_id"], "5f1e09-2a");
  EXPECT_EQ(lines[2]["conv"], "c_1");
  EXPECT_EQ(lines[2]["request_id"], "quoted\"id");
  EXPECT_EQ(lines[3]["request_id"], "5f1e09-2a");
  EXPECT_FALSE(lines[4].contains("request_id"));
}

TEST_F(LineTest, ALineNamingItsRequestGetsNoSecondId) {
  use("json");

  {
    RequestScope scope("5f1e09-2a");
    write(spdlog::level::info, Line("access").field("request_id", "5f1e09-2a"));
  }

  const std::string text = written();
  EXPECT_EQ(text.find("request_id"), text.rfind("request_id")) << text;
  EXPECT_EQ(nlohmann::json::parse(text)["request_id"], "5f1e09-2a");
}

TEST_F(LineTest, TextLinesWrittenForARequestEndWithItsId) {
  use("text");

  {
    RequestScope scope("5f1e09-2a");
    spdlog::warn("store failed conv={}", "c_1");
  }
  spdlog::warn("outside");

  const std::string text = written();
  EXPECT_NE(text.find(" warning store failed conv=c_1 request_id=5f1e09-2a\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find(" warning outside\n"), std::string::npos) << text;
}

TEST(RequestContext, WrappedWorkRunsWithTheIdCurrentWhereItWasWrapped) {
  std::function<std::string(int)> work;
  {
    RequestScope scope("req-1");
    work = with_current_request(
        [](int n) { return std::string(current_request_id()) + "/" + std::to_string(n); });
  }
  std::string on_other_thread;

  std::thread([&] { on_other_thread = work(3); }).join();

  EXPECT_EQ(on_other_thread, "req-1/3");
  EXPECT_EQ(current_request_id(), "");
}

TEST_F(LineTest, NothingIsWrittenBelowTheLevel) {
  use("json");

  write(spdlog::level::debug, access_line());

  EXPECT_FALSE(enabled(spdlog::level::debug));
  EXPECT_EQ(written(), "");
}

}  // namespace
}  // namespace handover::logging
