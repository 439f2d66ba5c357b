#include "handover/util/clock.hpp"

#include <gtest/gtest.h>

namespace handover {
namespace {

TEST(ParseRfc3339, ReadsTimestampsWithOffsetsAndFractions) {
  struct Case {
    const char* text;
    std::int64_t ms;
  };
  const Case cases[] = {
      {"1970-01-01T00:00:00Z", 0},
      {"2026-12-04T14:25:06.123Z", 1796394306123},
      {"2026-12-04t14:25:06.1234567z", 1796394306123},
      {"2026-12-04T15:25:06.123+01:00", 1796394306123},
      {"2026-12-04T13:55:06.123-00:30", 1796394306123},
      {"2024-02-29T00:00:00Z", 1709164800000},
      {"1969-12-31T23:59:59.999Z", -1},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);

    const auto parsed = parse_rfc3339_ms(c.text);

    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, c.ms);
  }
}

TEST(ParseRfc3339, RoundTripsWhatFormatWrites) {
  for (std::int64_t ms :
       {std::int64_t{0}, std::int64_t{951782400000}, std::int64_t{4102444799999}}) {
    EXPECT_EQ(parse_rfc3339_ms(format_rfc3339_ms(ms)), ms);
  }
}

TEST(ParseRfc3339, AcceptsBareDatesOnlyWhenAsked) {
  EXPECT_EQ(parse_rfc3339_ms("2026-12-04", true), 1796342400000);
  EXPECT_FALSE(parse_rfc3339_ms("2026-12-04").has_value());
}

TEST(ParseRfc3339, RefusesMalformedAndOutOfRangeValues) {
  for (const char* text :
       {"", "2026-12-04T14:25:06", "2026-13-01T00:00:00Z", "2026-04-31T00:00:00Z", "2025-02-29",
        "2026-12-04T24:00:00Z", "2026-12-04T12:60:00Z", "2026-12-04T12:00:60Z",
        "2026-12-04 12:00:00Z", "2026-12-04T12:00:00.Z", "2026-12-04T12:00:00+0100",
        "2026-12-04T12:00:00+01:00x", "26-12-04", "2026-1-04", "yesterday"}) {
    SCOPED_TRACE(text);
    EXPECT_FALSE(parse_rfc3339_ms(text, true).has_value());
  }
}

}  // namespace
}  // namespace handover
