// config/privacy.yaml: defaults, every key, and problems reported at their file positions.
#include "handover/privacy/privacy_config.hpp"

#include <gtest/gtest.h>

#include <string>

namespace handover::privacy {
namespace {

std::string problems(const std::string& yaml) {
  Result<PrivacyConfig> parsed = parse_privacy_config(yaml, "privacy.yaml");
  return parsed ? std::string() : parsed.status().message();
}

TEST(PrivacyConfigTest, EmptyFileGivesProtectiveDefaults) {
  Result<PrivacyConfig> parsed = parse_privacy_config("", "privacy.yaml");

  ASSERT_TRUE(parsed.is_ok()) << parsed.status().to_string();
  EXPECT_EQ(parsed->store.action_for("email"), Action::kMask);
  EXPECT_EQ(parsed->store.action_for("card"), Action::kPartial);
  EXPECT_EQ(parsed->webhook.action_for("card"), Action::kMask);
  EXPECT_EQ(parsed->policy(Destination::kLog).action_for("iban"), Action::kMask);
  EXPECT_EQ(parsed->retention.turns_s, 90 * 86400);
  EXPECT_FALSE(parsed->access.agents_read_handled);
  EXPECT_FALSE(parsed->handover_notice("de").empty());
}

TEST(PrivacyConfigTest, ShippedFileSpellsOutTheBuiltInDefaults) {
  Result<PrivacyConfig> shipped =
      load_privacy_config(std::string(HANDOVER_SOURCE_DIR) + "/config/privacy.yaml");

  ASSERT_TRUE(shipped.is_ok()) << shipped.status().to_string();
  PrivacyConfig defaults;
  defaults.source_path = shipped->source_path;
  EXPECT_TRUE(*shipped == defaults);
}

TEST(PrivacyConfigTest, ReadsEverySection) {
  Result<PrivacyConfig> parsed = parse_privacy_config(R"(detect:
  patterns:
    - name: customer_no
      regex: 'KD-[0-9]{6}'
policies:
  store: {email: keep, customer_no: partial, default: mask}
  agent: {card: mask}
  webhook: {default: mask}
retention:
  turns: 30d
  conversations: 0
  snapshots: 12h
  feedback: 90m
  events: 45s
  access_log: 2d
  interval: 10m
  batch_size: 100
  max_batches: 5
  vacuum_pages: 0
notice:
  versions: ["2024-05", "2025-01"]
  required: true
  handover_text:
    de: "Jetzt liest ein Mensch mit."
    en: "A human reads along now."
access:
  agents_read_handled: true
  audit_read_keys: false
)",
                                                      "privacy.yaml");

  ASSERT_TRUE(parsed.is_ok()) << parsed.status().to_string();
  ASSERT_EQ(parsed->patterns.size(), 1u);
  EXPECT_EQ(parsed->patterns[0].name, "customer_no");
  EXPECT_EQ(parsed->store.action_for("email"), Action::kKeep);
  EXPECT_EQ(parsed->store.action_for("customer_no"), Action::kPartial);
  EXPECT_EQ(parsed->agent.action_for("card"), Action::kMask);
  EXPECT_EQ(parsed->retention.turns_s, 30 * 86400);
  EXPECT_EQ(parsed->retention.conversations_s, 0);
  EXPECT_EQ(parsed->retention.snapshots_s, 12 * 3600);
  EXPECT_EQ(parsed->retention.feedback_s, 90 * 60);
  EXPECT_EQ(parsed->retention.events_s, 45);
  EXPECT_EQ(parsed->retention.interval_s, 600);
  EXPECT_EQ(parsed->retention.batch_size, 100);
  EXPECT_EQ(parsed->retention.vacuum_pages, 0);
  EXPECT_TRUE(parsed->notice.required);
  EXPECT_EQ(parsed->handover_notice("de-AT"), "Jetzt liest ein Mensch mit.");
  EXPECT_EQ(parsed->handover_notice("fr"), "A human reads along now.");
  EXPECT_TRUE(parsed->access.agents_read_handled);
  EXPECT_FALSE(parsed->access.audit_read_keys);
  EXPECT_TRUE(parsed->check_notice_version("2025-01").is_ok());
  EXPECT_FALSE(parsed->check_notice_version("2023-01").is_ok());
  EXPECT_FALSE(parsed->check_notice_version("").is_ok());
}

TEST(PrivacyConfigTest, ReportsEveryProblemWithItsPosition) {
  const std::string message = problems(R"(detect:
  patterns:
    - name: email
      regex: 'x'
    - name: nested
      regex: '(a+)+b'
    - name: broken
      regex: '[a-'
policies:
  store: {emial: mask, card: hide}
retention:
  turns: 90 days
  interval: 0
notice:
  required: true
)");

  for (const char* expected :
       {"privacy.yaml:3:13: 'email' is reserved (key 'detect.patterns[0].name')",
        "privacy.yaml:6:14:", "exponential time", "privacy.yaml:8:14: the regex does not compile",
        "privacy.yaml:10:11: unknown key, did you mean 'email'? (key 'policies.store.emial')",
        "privacy.yaml:10:30: expected one of keep, mask, partial, got 'hide'",
        "privacy.yaml:12:10: expected a period such as 90d",
        "privacy.yaml:13:13: expected a period of at least 1s",
        "a required notice needs at least one version"}) {
    SCOPED_TRACE(expected);
    EXPECT_NE(message.find(expected), std::string::npos) << message;
  }
}

// The snapshot of an escalation copies the conversation's turns: kept longer than the turns,
// it would keep their texts after retention.turns promised them gone.
TEST(PrivacyConfigTest, RefusesSnapshotsKeptLongerThanTheTurnsTheyCopy) {
  struct Case {
    const char* yaml;
    const char* expected;  // "" when the file is accepted
  };
  const Case cases[] = {
      {"retention:\n  turns: 7d\n  snapshots: 8d\n",
       "privacy.yaml:3:3: retention.snapshots (8d) is longer than retention.turns (7d): each "
       "escalation's snapshot copies the turns and would keep their texts after the turns are "
       "deleted; set retention.snapshots to 7d or less (key 'retention.snapshots')"},
      {"retention:\n  turns: 36h\n",
       "privacy.yaml:2:3: retention.snapshots (30d, the default) is longer than retention.turns "
       "(36h)"},
      {"retention:\n  snapshots: 0\n",
       "privacy.yaml:2:3: retention.snapshots (0, forever) is longer than retention.turns (90d)"},
      {"retention:\n  turns: 90m\n  snapshots: 5401s\n",
       "retention.snapshots (5401s) is longer than retention.turns (90m)"},
      {"retention:\n  turns: 7d\n  snapshots: 7d\n", ""},
      {"retention:\n  turns: 0\n  snapshots: 0\n", ""},
      {"retention:\n  turns: 0\n  snapshots: 400d\n", ""},
      {"retention:\n  turns: 30m\n  snapshots: 30s\n", ""},
  };

  for (const Case& c : cases) {
    SCOPED_TRACE(c.yaml);
    const std::string message = problems(c.yaml);
    if (*c.expected == '\0') {
      EXPECT_EQ(message, "");
    } else {
      EXPECT_NE(message.find(c.expected), std::string::npos) << message;
    }
  }
}

// A value that is wrong in itself is reported alone, not also as a conflict of its default.
TEST(PrivacyConfigTest, ReportsABadSnapshotsPeriodOnlyOnce) {
  const std::string message = problems("retention:\n  turns: 7d\n  snapshots: soon\n");

  EXPECT_NE(message.find("privacy.yaml:3:14: expected a period"), std::string::npos) << message;
  EXPECT_EQ(message.find("longer than"), std::string::npos) << message;
}

TEST(PrivacyConfigTest, ParsesPeriods) {
  EXPECT_EQ(parse_period("0").value(), 0);
  EXPECT_EQ(parse_period("7d").value(), 7 * 86400);
  EXPECT_EQ(parse_period("3s").value(), 3);
  for (const char* bad : {"", "d", "-1d", "1w", "1.5h", "d1", " 1d"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(parse_period(bad).is_ok());
  }
}

}  // namespace
}  // namespace handover::privacy
