#include "handover/util/clock.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <string>

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

// The same instant as the C library's calendar writes it.
std::string formatted_by_libc(std::int64_t ms) {
  const std::int64_t millis = ((ms % 1000) + 1000) % 1000;
  const std::time_t t = static_cast<std::time_t>((ms - millis) / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char date[64];
  const std::size_t n = std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  char fraction[8];
  std::snprintf(fraction, sizeof fraction, ".%03dZ", static_cast<int>(millis));
  return std::string(date, n) + fraction;
}

TEST(FormatRfc3339, MatchesTheCalendarOfTheCLibrary) {
  EXPECT_EQ(format_rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339_ms(1796394306123), "2026-12-04T14:25:06.123Z");
  EXPECT_EQ(format_rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(format_rfc3339_ms(1709164800000), "2024-02-29T00:00:00.000Z");
  // Every 7 hours, 13 minutes and some milliseconds from 1900 to 2200: all months, leap days
  // and centuries on both sides of the epoch.
  constexpr std::int64_t kFrom = -2'208'988'800'000;  // 1900-01-01
  constexpr std::int64_t kTo = 7'258'118'400'000;     // 2200-01-01
  constexpr std::int64_t kStep = (7 * 3600 + 13 * 60) * 1000 + 457;
  int checked = 0;
  for (std::int64_t ms = kFrom; ms < kTo; ms += kStep, ++checked) {
    ASSERT_EQ(format_rfc3339_ms(ms), formatted_by_libc(ms)) << ms;
  }
  EXPECT_GT(checked, 300'000);
  // Years outside the four digits the layout holds.
  EXPECT_EQ(format_rfc3339_ms(253'402'300'800'000), "10000-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339_ms(-62'198'755'200'000), "-001-01-01T00:00:00.000Z");
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
