#include "handover/logging/log.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace handover::logging
