#include "handover/util/utf8.hpp"

#include <gtest/gtest.h>

#include <string>

namespace handover::utf8 {
namespace {

struct Case {
  const char* name;
  std::string bytes;
  bool valid;
};

TEST(Utf8, ValidatesStrictly) {
  const Case cases[] = {
      {"ascii", "hello", true},
      {"umlaut", "K\xc3\xbcndigung", true},
      {"emoji", "\xf0\x9f\x98\xa1", true},
      {"empty", "", true},
      {"lone continuation", "\x80", false},
      {"overlong slash", "\xc0\xaf", false},
      {"overlong three byte", "\xe0\x80\xaf", false},
      {"surrogate D800", "\xed\xa0\x80", false},
      {"above 10FFFF", "\xf4\x90\x80\x80", false},
      {"truncated", "\xe2\x82", false},
      {"invalid lead F8", "\xf8\x88\x80\x80\x80", false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(is_valid(c.bytes), c.valid);
  }
}

TEST(Utf8, SafePrefixNeverSplitsACodePoint) {
  const std::string s = "a\xc3\xbc\xf0\x9f\x98\xa1";  // a, ü, 😡

  EXPECT_EQ(safe_prefix_length(s, 1), 1u);
  EXPECT_EQ(safe_prefix_length(s, 2), 1u);
  EXPECT_EQ(safe_prefix_length(s, 3), 3u);
  EXPECT_EQ(safe_prefix_length(s, 6), 3u);
  EXPECT_EQ(safe_prefix_length(s, 7), 7u);
  EXPECT_EQ(safe_prefix_length(s, 100), 7u);
  EXPECT_EQ(count_code_points(s), 3u);
}

TEST(Utf8, BlankTextShowsNothing) {
  EXPECT_TRUE(is_blank(""));
  EXPECT_TRUE(is_blank(" \t\r\n"));
  EXPECT_TRUE(is_blank("\xC2\xA0\xE2\x80\x8B"));  // no-break space, zero-width space
  EXPECT_TRUE(is_blank("\xE3\x80\x80\xEF\xBB\xBF "));  // ideographic space, BOM
  EXPECT_FALSE(is_blank("\xC2\xA0x"));
  EXPECT_FALSE(is_blank("\xC3\xA4"));          // ä
  EXPECT_FALSE(is_blank("\xF0\x9F\x91\x8D"));  // thumbs up
}

TEST(Utf8, FindsControlCharactersButNotTabsOrLineBreaks) {
  EXPECT_EQ(find_control("plain\ttext\r\nnext line"), std::string_view::npos);
  EXPECT_EQ(find_control(std::string("a\0b", 3)), 1u);
  EXPECT_EQ(find_control("a\x1B[31mred"), 1u);
  EXPECT_EQ(find_control("\xC3\xA4\x7F"), 2u);  // DEL after ä
  EXPECT_EQ(find_control("x\xC2\x85"), 1u);      // U+0085, a C1 control
  EXPECT_EQ(find_control("\xC2\xA0\xC3\xBF"), std::string_view::npos);  // U+00A0, ÿ
}

TEST(Utf8, RepairWritesInvalidBytesAsHexEscapes) {
  const std::string latin1 = "unknown key 'versi\xf6n'";
  const std::string valid = "K\xc3\xbcndigung \xf0\x9f\x98\xa1";

  const std::string repaired = repair(latin1);

  EXPECT_EQ(repaired, "unknown key 'versi\\xf6n'");
  EXPECT_TRUE(is_valid(repaired));
  EXPECT_EQ(repair(valid), valid);
  EXPECT_EQ(repair("\xe2\x82"), "\\xe2\\x82");
}

}  // namespace
}  // namespace handover::utf8
