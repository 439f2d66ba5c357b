// Tests for loading config/routing.yaml and for the business-hours check.
#include "handover/routing/routing_config.hpp"

#include <gtest/gtest.h>

#include <string>

namespace handover::routing {
namespace {

constexpr char kMinimal[] = "queues:\n  - name: q1\n";

TEST(RoutingConfig, LoadsTheShippedFile) {
  Result<RoutingConfig> config =
      load_routing_config(std::string(HANDOVER_SOURCE_DIR) + "/config/routing.yaml");

  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  // The shipped queues are the ones the shipped trigger rules escalate to.
  for (const char* name : {"general", "complaints", "retention", "premium", "sales",
                           "international"}) {
    SCOPED_TRACE(name);
    EXPECT_NE(config->find_queue(name), nullptr);
  }
  const QueueConfig* complaints = config->find_queue("complaints");
  ASSERT_NE(complaints, nullptr);
  EXPECT_EQ(complaints->overflow.size(), 2u);
  EXPECT_EQ(complaints->overflow[1].action, OverflowStep::Action::kMoveToQueue);
  EXPECT_TRUE(complaints->hours.always_open);
  EXPECT_EQ(config->find_queue("retention")->offer_mode, OfferMode::kBroadcast);
}

TEST(RoutingConfig, AppliesDefaults) {
  Result<RoutingConfig> config = parse_routing_config(kMinimal, "r.yaml");

  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  const QueueConfig& queue = config->queues.front();
  EXPECT_EQ(queue.offer_mode, OfferMode::kSingle);
  EXPECT_EQ(queue.offer_timeout_s, 30);
  EXPECT_TRUE(queue.hours.always_open);
  EXPECT_EQ(config->decline_cooldown_s, 300);
}

TEST(RoutingConfig, ReportsErrorsWithLineAndColumn) {
  struct Case {
    const char* yaml;
    const char* expected;  // a substring of the message
  };
  const Case kCases[] = {
      {"queues:\n  - name: q1\n    colour: red\n", "r.yaml:3:5: unknown key"},
      {"queues:\n  - name: q1\n    name: q2\n", "r.yaml:3:5:"},
      {"queues:\n  - name: q1\n    priority: high\n", "r.yaml:3:15: expected an integer"},
      {"queues:\n  - name: q1\n    offer_timeout_s: 2\n",
       "r.yaml:3:22: expected an integer from 5"},
      {"queues:\n  - name: q1\n    offer_mode: all\n", "r.yaml:3:17:"},
      {"queues:\n  - name: q1\n    overflow:\n      - after_s: 10\n        move_to: nowhere\n",
       "r.yaml:5:9: unknown queue 'nowhere'"},
      {"queues:\n  - name: q1\n    business_hours:\n      time_zone: Mars/Olympus\n",
       "r.yaml:4:18: unknown time zone 'Mars/Olympus'"},
      {"queues:\n  - name: q1\n    business_hours:\n      time_zone: UTC\n      mon: [\"8-18\"]\n",
       "r.yaml:5:13: expected a time range"},
      {"settings:\n  decline_cooldown_s: -1\nqueues:\n  - name: q1\n", "r.yaml:2:23:"},
      {"queues:\n  - name: q1\n  - name: q1\n", "r.yaml:3:5: duplicate queue name"},
      {"queues:\n  - name: q1\n    overflow:\n      - after_s: 10\n", "exactly one of"},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.yaml);

    Result<RoutingConfig> config = parse_routing_config(c.yaml, "r.yaml");

    ASSERT_FALSE(config.is_ok());
    EXPECT_NE(config.status().message().find(c.expected), std::string::npos)
        << config.status().message();
  }
}

// 2024-01-15 is a Monday. Berlin is UTC+1 in January, UTC+2 in July.
constexpr std::int64_t kMonday0000Utc = 1'705'276'800'000;
constexpr std::int64_t kHour = 3'600'000;

TEST(BusinessHours, ChecksLocalTimeIncludingOvernightRanges) {
  Result<RoutingConfig> config = parse_routing_config(
      "queues:\n"
      "  - name: q1\n"
      "    business_hours:\n"
      "      time_zone: Europe/Berlin\n"
      "      mon: [\"08:00-18:00\", \"22:00-02:00\"]\n"
      "      sun: [\"00:00-24:00\"]\n",
      "r.yaml");
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  const BusinessHours& hours = config->queues.front().hours;

  struct Case {
    const char* what;
    std::int64_t at_ms;
    bool open;
  };
  const Case kCases[] = {
      {"Mon 06:59 UTC = 07:59 Berlin", kMonday0000Utc + 6 * kHour + 59 * 60'000, false},
      {"Mon 07:00 UTC = 08:00 Berlin", kMonday0000Utc + 7 * kHour, true},
      {"Mon 16:59 UTC = 17:59 Berlin", kMonday0000Utc + 17 * kHour - 60'000, true},
      {"Mon 17:00 UTC = 18:00 Berlin", kMonday0000Utc + 17 * kHour, false},
      {"Mon 21:30 UTC = 22:30 Berlin", kMonday0000Utc + 21 * kHour + 30 * 60'000, true},
      {"Tue 00:30 UTC = 01:30 Berlin, overnight", kMonday0000Utc + 24 * kHour + 30 * 60'000,
       true},
      {"Tue 01:00 UTC = 02:00 Berlin, overnight over", kMonday0000Utc + 25 * kHour, false},
      {"Sun 23:30 Berlin", kMonday0000Utc - 30 * 60'000 - kHour, true},
      {"Sat 12:00 Berlin", kMonday0000Utc - 36 * kHour, false},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.what);
    EXPECT_EQ(hours.is_open(c.at_ms), c.open);
  }
}

TEST(BusinessHours, FollowsDaylightSavingTime) {
  Result<RoutingConfig> config = parse_routing_config(
      "queues:\n  - name: q1\n    business_hours:\n      time_zone: Europe/Berlin\n"
      "      mon: [\"08:00-09:00\"]\n",
      "r.yaml");
  ASSERT_TRUE(config.is_ok());
  const BusinessHours& hours = config->queues.front().hours;
  // 2024-07-15 is a Monday; 06:30 UTC is 08:30 in Berlin summer time.
  constexpr std::int64_t kJulyMonday = 1'721'001'600'000;

  EXPECT_TRUE(hours.is_open(kJulyMonday + 6 * kHour + 30 * 60'000));
  EXPECT_FALSE(hours.is_open(kJulyMonday + 7 * kHour + 30 * 60'000));
}

}  // namespace
}  // namespace handover::routing
