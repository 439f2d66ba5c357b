// The connectors and webhooks sections of the server config: values, defaults, secrets from
// the environment, and their diagnostics.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "handover/config/server_config.hpp"

namespace handover::config {
namespace {

using ::testing::HasSubstr;
using Env = std::map<std::string, std::string>;

const std::string kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

class IntegrationsConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("handover_integrations_test_" + std::to_string(::getpid()) + "_" + info->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Result<ServerConfig> load(const std::string& text, const Env& env = {}) {
    const std::string path = (dir_ / "server.yaml").string();
    std::ofstream(path) << text;
    return load_server_config(path, env, {});
  }

  std::string errors(const std::string& text, const Env& env = {}) {
    auto result = load(text, env);
    EXPECT_FALSE(result.is_ok());
    return result.status().message();
  }

  std::filesystem::path dir_;
};

TEST_F(IntegrationsConfigTest, ShippedConfigAnswersTheWebChannelWithTheFaqBot) {
  auto config = load_server_config(std::string(HANDOVER_SOURCE_DIR) + "/config/server.yaml", {},
                                   {});

  ASSERT_TRUE(config.is_ok()) << config.status().message();
  ASSERT_EQ(config->connectors.size(), 1u);
  EXPECT_EQ(config->connectors[0].channel, "web");
  EXPECT_EQ(config->connectors[0].type, "builtin");
  EXPECT_EQ(config->connectors[0].file,
            std::string(HANDOVER_SOURCE_DIR) + "/config/demo-bot.yaml");
  EXPECT_TRUE(config->webhooks.empty());
}

TEST_F(IntegrationsConfigTest, ReadsConnectorsWithDefaults) {
  auto config = load(
      "connectors:\n"
      "  web: {type: builtin}\n"
      "  app:\n"
      "    type: webhook\n"
      "    url: http://127.0.0.1:5005/webhooks/rest/webhook\n"
      "    format: rasa\n"
      "    timeout_ms: 1500\n"
      "    retries: 0\n"
      "  legacy: {type: none}\n");

  ASSERT_TRUE(config.is_ok()) << config.status().message();
  ASSERT_EQ(config->connectors.size(), 3u);
  const ConnectorConfig& app = config->connectors[0];
  EXPECT_EQ(app.channel, "app");
  EXPECT_EQ(app.format, "rasa");
  EXPECT_EQ(app.timeout_ms, 1500);
  EXPECT_EQ(app.retries, 0);
  EXPECT_EQ(app.retry_backoff_ms, 500);
  EXPECT_EQ(config->connectors[1].channel, "legacy");
  EXPECT_EQ(config->connectors[2].file, (dir_ / "demo-bot.yaml").string());
}

TEST_F(IntegrationsConfigTest, ReportsBadConnectorsWithPositions) {
  const std::string m = errors(
      "connectors:\n"
      "  web: {type: webhook}\n"
      "  app: {type: builtin, url: http://x/}\n"
      "  \"bad channel\": {type: none}\n"
      "  rasa: {type: webhook, url: 'https://bot/', format: dialogflow}\n"
      "  old: {type: builtin, retries: 1, colour: red}\n");

  EXPECT_THAT(m, HasSubstr(":2:8: a webhook connector needs 'url' (key 'connectors.web')"));
  EXPECT_THAT(m, HasSubstr(":3:29: 'url' is only for type webhook (key 'connectors.app.url')"));
  EXPECT_THAT(m, HasSubstr(":4:3: expected a channel name"));
  EXPECT_THAT(m, HasSubstr("https is not supported"));
  EXPECT_THAT(m, HasSubstr("expected one of handover, rasa, got 'dialogflow'"));
  EXPECT_THAT(m, HasSubstr("'retries' is only for type webhook"));
  EXPECT_THAT(m, HasSubstr("unknown key (key 'connectors.old.colour')"));
}

TEST_F(IntegrationsConfigTest, ReadsWebhooks) {
  auto config = load(
      "webhooks:\n"
      "  - name: crm\n"
      "    url: http://127.0.0.1:9000/hooks\n"
      "    secret: " + kSecret + "\n"
      "    events: [handover.resolved, handover.requested, handover.resolved]\n"
      "    max_attempts: 3\n");

  ASSERT_TRUE(config.is_ok()) << config.status().message();
  ASSERT_EQ(config->webhooks.size(), 1u);
  const WebhookConfig& w = config->webhooks[0];
  EXPECT_EQ(w.name, "crm");
  EXPECT_EQ(w.secret, kSecret);
  EXPECT_EQ(w.events, (std::vector<std::string>{"handover.requested", "handover.resolved"}));
  EXPECT_EQ(w.max_attempts, 3);
  EXPECT_EQ(w.initial_backoff_ms, 1000);
}

TEST_F(IntegrationsConfigTest, TakesTheSecretFromTheEnvironment) {
  const std::string text =
      "webhooks:\n"
      "  - {name: crm, url: 'http://127.0.0.1:9000/', events: [turn.created]}\n";

  auto config = load(text, {{"HANDOVER_WEBHOOKS_CRM_SECRET", kSecret}});
  const std::string missing = errors(text);
  const std::string bad = errors(text, {{"HANDOVER_WEBHOOKS_CRM_SECRET", "whsec_short"}});
  const std::string unknown = errors(
      text, {{"HANDOVER_WEBHOOKS_CRM_SECRET", kSecret}, {"HANDOVER_WEBHOOKS_BI_SECRET", kSecret}});

  ASSERT_TRUE(config.is_ok()) << config.status().message();
  EXPECT_EQ(config->webhooks[0].secret, kSecret);
  EXPECT_THAT(missing, HasSubstr("missing required key (key 'webhooks[0].secret')"));
  EXPECT_THAT(bad, HasSubstr("HANDOVER_WEBHOOKS_CRM_SECRET: expected 'whsec_'"));
  EXPECT_THAT(bad, ::testing::Not(HasSubstr("whsec_short")));
  EXPECT_THAT(unknown, HasSubstr("HANDOVER_WEBHOOKS_BI_SECRET: no webhook"));
}

TEST_F(IntegrationsConfigTest, ReportsBadWebhooks) {
  const std::string m = errors(
      "webhooks:\n"
      "  - name: CRM\n"
      "    url: ftp://x/\n"
      "    secret: not-a-secret\n"
      "    events: [handover.requsted]\n"
      "  - {name: bi, url: 'http://x/', secret: " + kSecret + ", events: [],"
      " initial_backoff_ms: 500, max_backoff_ms: 100}\n"
      "  - {name: bi, url: 'http://x/', secret: " + kSecret + ", events: [turn.created]}\n");

  EXPECT_THAT(m, HasSubstr(":2:11: expected a name of at most 64 lower-case"));
  EXPECT_THAT(m, HasSubstr(":3:10: expected an http:// URL"));
  EXPECT_THAT(m, HasSubstr(":4:13: expected 'whsec_'"));
  EXPECT_THAT(m, ::testing::Not(HasSubstr("not-a-secret")));
  EXPECT_THAT(m, HasSubstr("did you mean handover.requested?"));
  EXPECT_THAT(m, HasSubstr("expected at least one event type"));
  EXPECT_THAT(m, HasSubstr("max_backoff_ms must not be below initial_backoff_ms"));
  EXPECT_THAT(m, HasSubstr(":7:12: duplicate webhook name, first used at line 6"));
}

}  // namespace
}  // namespace handover::config
