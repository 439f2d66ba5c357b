#include "handover/util/json_writer.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

namespace handover::json_util {
namespace {

std::string quote(std::string_view s) {
  std::string out;
  append_quoted(out, s);
  return out;
}

TEST(JsonWriter, WritesWhatDumpWritesForTheSameTree) {
  std::string text;
  JsonWriter w(text);
  w.begin_object();
  w.key("a").begin_array().number(1).number(-2.5).number(0.1 + 0.2).number(1e-7).end_array();
  w.key("b").begin_object().key("c").boolean(true).key("d").null().end_object();
  w.key("e").string("tab\there \"quoted\" back\\slash \x01 ü €");
  w.key("f").begin_array().end_array();
  w.key("g").begin_object().end_object();
  w.key("h").number(3.0).key("i").number(std::int64_t{-9007199254740993});
  w.key("j").raw(R"({"x":[1,2]})");
  w.end_object();

  const nlohmann::json tree = {
      {"a", {1, -2.5, 0.1 + 0.2, 1e-7}},
      {"b", {{"c", true}, {"d", nullptr}}},
      {"e", "tab\there \"quoted\" back\\slash \x01 ü €"},
      {"f", nlohmann::json::array()},
      {"g", nlohmann::json::object()},
      {"h", 3.0},
      {"i", std::int64_t{-9007199254740993}},
      {"j", {{"x", {1, 2}}}},
  };
  EXPECT_EQ(text, tree.dump());
}

TEST(JsonWriter, WholeNumbersAreWrittenAsDumpWritesThem) {
  const double values[] = {0.0,    -0.0,   1.0,     -1.0,   7.0,    100.0,  -2500.0,
                           1e14,   -1e14,  999999999999999.0, 1e15, -1e15,  1e16,
                           1e300,  0.5,    -0.25,   4503599627370496.0, 123456789012.0};
  for (double value : values) {
    std::string text;
    JsonWriter(text).number(value);
    EXPECT_EQ(text, nlohmann::json(value).dump()) << value;
  }
}

TEST(JsonWriter, KeysWrittenInTheSourceAndKeysFromDataReadTheSame) {
  std::string literal;
  std::string data;
  const std::string name = "signals";
  JsonWriter(literal).begin_object().key("signals").number(1).key("x").null().end_object();
  JsonWriter(data).begin_object().key(name).number(1).key(std::string_view("x")).null()
      .end_object();
  EXPECT_EQ(literal, R"({"signals":1,"x":null})");
  EXPECT_EQ(data, literal);
}

TEST(JsonWriter, NonFiniteNumbersAreNull) {
  std::string text;
  JsonWriter(text)
      .begin_array()
      .number(std::nan(""))
      .number(std::numeric_limits<double>::infinity())
      .end_array();
  EXPECT_EQ(text, "[null,null]");
}

TEST(JsonWriter, EveryControlCharacterIsEscapedAsDumpDoes) {
  for (int c = 0; c < 0x20; ++c) {
    const std::string s(1, static_cast<char>(c));
    EXPECT_EQ(quote(s), nlohmann::json(s).dump()) << "byte " << c;
  }
}

TEST(JsonWriter, EveryAsciiByteInsideAndAtTheEndsOfARunIsWrittenAsDumpWritesIt) {
  for (int c = 0; c < 0x80; ++c) {
    const char b = static_cast<char>(c);
    const std::string s = std::string(1, b) + "plain text" + b + b + "more" + b;
    EXPECT_EQ(quote(s), nlohmann::json(s).dump()) << "byte " << c;
  }
}

// Plain runs are skipped eight bytes at a time: a byte that needs care must be found at any
// offset of a word, in the last partial word, and right after a run of whole words.
TEST(JsonWriter, ASpecialByteIsFoundAtEveryOffsetOfALongPlainRun) {
  const std::string specials[] = {"\"", "\\", std::string(1, '\0'), "\x1f", "\x7f", "\xc3\xbc"};
  for (const std::string& special : specials) {
    for (std::size_t at = 0; at <= 40; ++at) {
      std::string s(41, 'a');
      s.replace(at, 1, special);
      EXPECT_EQ(quote(s), nlohmann::json(s).dump())
          << "byte " << static_cast<int>(static_cast<unsigned char>(special[0])) << " at " << at;
    }
  }
  for (std::size_t at = 0; at <= 40; ++at) {
    std::string s(41, 'a');
    s[at] = '\x80';  // not UTF-8: replaced
    const std::string expected =
        "\"" + std::string(at, 'a') + "\xEF\xBF\xBD" + std::string(40 - at, 'a') + "\"";
    EXPECT_EQ(quote(s), expected) << "at " << at;
  }
}

TEST(JsonWriter, MalformedUtf8BecomesReplacementCharacters) {
  // A lone continuation byte, a truncated sequence at the end, an overlong form, a surrogate.
  EXPECT_EQ(quote("a\x80"
                  "b"),
            "\"a\xEF\xBF\xBD"
            "b\"");
  EXPECT_EQ(quote("x\xE2\x82"), "\"x\xEF\xBF\xBD\xEF\xBF\xBD\"");
  EXPECT_EQ(quote("\xC0\xAF"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");
  EXPECT_EQ(quote("\xED\xA0\x80"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
  // Whatever the input, the output parses.
  EXPECT_TRUE(nlohmann::json::accept(quote("\xFF\xFE\"\\\x7F")));
}

TEST(JsonWriter, FourByteSequencesPassThrough) {
  EXPECT_EQ(quote("\xF0\x9F\x98\x80"), "\"\xF0\x9F\x98\x80\"");
}

}  // namespace
}  // namespace handover::json_util
