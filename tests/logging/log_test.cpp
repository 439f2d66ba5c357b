#include "handover/logging/log.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

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

TEST_F(LineTest, NothingIsWrittenBelowTheLevel) {
  use("json");

  write(spdlog::level::debug, access_line());

  EXPECT_FALSE(enabled(spdlog::level::debug));
  EXPECT_EQ(written(), "");
}

}  // namespace
}  // namespace handover::logging
