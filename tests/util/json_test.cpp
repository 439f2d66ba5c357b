#include "handover/util/json.hpp"

#include <gtest/gtest.h>

namespace handover::json_util {
namespace {

TEST(ParseStrict, ReportsEachKindOfBadInput) {
  struct Case {
    const char* name;
    const char* text;
    ParseError expected;
  };
  const Case cases[] = {
      {"valid", R"({"a":1,"b":{"a":2}})", ParseError::kNone},
      {"syntax", R"({"a":)", ParseError::kSyntax},
      {"number overflow", R"({"n":1e400})", ParseError::kSyntax},
      {"lone surrogate", R"({"t":"\ud800"})", ParseError::kLoneSurrogate},
      {"duplicate member", R"({"type":"ping","type":"hello"})", ParseError::kDuplicateMember},
      {"duplicate nested", R"({"a":{"x":1,"x":2}})", ParseError::kDuplicateMember},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    nlohmann::json out;
    std::string detail;

    const ParseError got = parse_strict(c.text, out, detail);

    EXPECT_EQ(got, c.expected);
    EXPECT_EQ(detail.empty(), c.expected == ParseError::kNone);
    EXPECT_EQ(detail.find("json.exception"), std::string::npos) << detail;
  }
}

TEST(ParseStrict, SameNameInSiblingObjectsIsFine) {
  nlohmann::json out;
  std::string detail;

  EXPECT_EQ(parse_strict(R"([{"a":1},{"a":2}])", out, detail), ParseError::kNone);
  EXPECT_EQ(out[1]["a"], 2);
}

}  // namespace
}  // namespace handover::json_util
