// Bot connectors and outbound webhooks through the real server: the built-in FAQ bot, a
// webhook bot (answering, Rasa-shaped, too slow, down) and a webhook receiver that verifies
// signatures and fails once.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <tuple>

#include "handover/util/crypto.hpp"
#include "support/http_client.hpp"
#include "support/loopback_server.hpp"
#include "support/server_process.hpp"
#include "support/webhook_signature.hpp"

namespace handover::testing {
namespace {

using nlohmann::json;

const std::string kRawKey = "integration-webhook-secret-bytes";

std::string builtin_connector() {
  return "connectors:\n  web:\n    type: builtin\n    file: " + std::string(HANDOVER_SOURCE_DIR) +
         "/config/demo-bot.yaml\n";
}

std::string webhook_connector(const std::string& url, const std::string& format = "handover",
                              int timeout_ms = 2000, int retries = 1) {
  return "connectors:\n  web:\n    type: webhook\n    url: " + url + "\n    format: " + format +
         "\n    timeout_ms: " + std::to_string(timeout_ms) +
         "\n    retries: " + std::to_string(retries) + "\n    retry_backoff_ms: 50\n";
}

class ConnectorsTest : public ::testing::Test {
 protected:
  void start(const std::string& yaml) {
    server_ = std::make_unique<ServerProcess>(ServerSettings::yaml(yaml));
    ASSERT_TRUE(server_->start()) << server_->log();
  }

  HttpResponse call(const std::string& method, const std::string& target,
                    const std::string& body = {}) {
    HttpClient client(server_->port());
    std::string headers = ServerProcess::bearer(kBotKey);
    if (!body.empty()) headers += "Content-Type: application/json\r\n";
    return client.request(method, target, body, headers);
  }

  std::string create(const std::string& language, const std::string& channel = "web") {
    auto r = call("POST", "/v1/conversations",
                  json{{"language", language}, {"channel", channel}}.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json().value("id", "");
  }

  json user(const std::string& id, const std::string& text) {
    auto r = call("POST", "/v1/conversations/" + id + "/turns",
                  json{{"role", "user"}, {"text", text}}.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json();
  }

  // The turns, without the narrator's system turns (messages_test.cpp tests what it says).
  json turns(const std::string& id) {
    HttpClient client(server_->port());
    auto r = client.request("GET", "/v1/conversations/" + id + "/turns", {},
                            ServerProcess::bearer(kReadKey));
    EXPECT_EQ(r.status, 200) << r.body;
    json page = r.json();
    json kept = json::array();
    for (const auto& turn : page.value("turns", json::array())) {
      if (!turn["id"].is_string() || !turn["id"].get<std::string>().starts_with("narrator:")) {
        kept.push_back(turn);
      }
    }
    page["turns"] = std::move(kept);
    return page;
  }

  // Waits (bounded) until the conversation is in `state`; returns the last state seen.
  std::string wait_for_state(const std::string& id, const std::string& state) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    std::string seen = turns(id)["state"];
    while (seen != state && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      seen = turns(id)["state"];
    }
    return seen;
  }

  // Waits (bounded) until the conversation has `n` turns; returns its turns page.
  json wait_for_turns(const std::string& id, std::size_t n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    json page = turns(id);
    while (page["turns"].size() < n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      page = turns(id);
    }
    return page;
  }

  std::unique_ptr<ServerProcess> server_;
};

TEST_F(ConnectorsTest, BuiltinBotAnswersAndFallsBack) {
  start(builtin_connector());
  const std::string id = create("de");

  user(id, "Wo ist meine Bestellung?");
  const json answered = wait_for_turns(id, 2);
  user(id, "Mein Hamster frisst keine Karotten mehr");
  const json fell_back = wait_for_turns(id, 4);

  ASSERT_EQ(answered["turns"].size(), 2u) << answered.dump();
  const json& reply = answered["turns"][1];
  EXPECT_EQ(reply["role"], "bot");
  EXPECT_EQ(reply["id"], "bot-reply:1");
  EXPECT_EQ(reply["bot"]["intent"], "order.status");
  EXPECT_FALSE(reply["bot"]["fallback"].get<bool>());
  EXPECT_GE(reply["bot"]["confidence"].get<double>(), 0.4);
  EXPECT_NE(reply["text"].get<std::string>().find("Bestellung"), std::string::npos);
  EXPECT_EQ(reply["actions"][0]["name"], "show_order_list");
  ASSERT_EQ(fell_back["turns"].size(), 4u) << fell_back.dump();
  const json& fallback = fell_back["turns"][3];
  EXPECT_TRUE(fallback["bot"]["fallback"].get<bool>());
  EXPECT_LT(fallback["bot"]["confidence"].get<double>(), 0.4);
  EXPECT_FALSE(fallback["bot"].contains("intent"));
}

TEST_F(ConnectorsTest, WhenTheTriggersSuggestAPersonTheBuiltinBotOffersOneAndAYesEscalatesThere) {
  start(builtin_connector());
  for (const auto& [language, text, agree] :
       {std::tuple<std::string, std::string, std::string>{"en", "I want to cancel my contract",
                                                          "yes please"},
        {"de", "Ich will kündigen", "ja bitte"}}) {
    SCOPED_TRACE(language);
    const std::string id = create(language);

    const json asked = user(id, text);
    const json offered = wait_for_turns(id, 3);
    const json yes = user(id, agree);

    EXPECT_EQ(asked["decision"]["action"], "suggest") << asked.dump();
    ASSERT_EQ(offered["turns"].size(), 3u) << offered.dump();
    EXPECT_EQ(offered["turns"][2]["role"], "bot");
    EXPECT_EQ(offered["turns"][2]["bot"]["intent"], "offer_handover");
    EXPECT_EQ(yes.value("state", ""), "queued") << yes.dump();
    // The "yes" goes where the suggesting rule would have sent the conversation.
    EXPECT_EQ(yes["decision"]["queue"], asked["decision"]["queue"]) << yes.dump();
    EXPECT_EQ(yes["decision"]["queue"], "retention") << yes.dump();
  }
}

TEST_F(ConnectorsTest, AQuestionAStoppedServerLeftUnansweredIsAskedAgainOnRestart) {
  LoopbackServer bot([](const http::Request& request) {
    const json asked = json::parse(request.body);
    const std::string echo = "Echo: " + asked["message"].get<std::string>();
    return LoopbackServer::Reply{200, json{{"replies", {{{"text", echo}}}}}.dump(), false};
  });
  bot.script({LoopbackServer::Reply{200, "{}", true}});  // the first question is never answered
  start(webhook_connector(bot.url("/bot"), "handover", 10000, 0));
  const std::string id = create("en");
  user(id, "Where is my parcel?");
  ASSERT_EQ(bot.wait_for_requests(1), 1u);

  server_->kill9();
  ASSERT_TRUE(server_->start()) << server_->log();
  const json page = wait_for_turns(id, 2);

  ASSERT_EQ(page["turns"].size(), 2u) << page.dump();
  EXPECT_EQ(page["turns"][1]["id"], "bot-reply:1");
  EXPECT_EQ(page["turns"][1]["text"], "Echo: Where is my parcel?");
  EXPECT_EQ(bot.requests().size(), 2u);
}

TEST_F(ConnectorsTest, OtherChannelsGetNoAnswerFromTheServer) {
  start(builtin_connector());
  const std::string other = create("en", "app");
  const std::string web = create("en");

  user(other, "Where is my order?");
  user(web, "Where is my order?");
  wait_for_turns(web, 2);

  EXPECT_EQ(turns(other)["turns"].size(), 1u);
}

TEST_F(ConnectorsTest, WebhookBotAnswersWithConfidence) {
  LoopbackServer bot([](const http::Request& request) {
    const json asked = json::parse(request.body);
    const json replies = {{"replies",
                           {{{"text", "Echo: " + asked["message"].get<std::string>()},
                             {"confidence", 0.85},
                             {"intent", "echo"}}}}};
    return LoopbackServer::Reply{200, replies.dump(), false};
  });
  start(webhook_connector(bot.url("/bot")));
  const std::string id = create("en");

  user(id, "Hello there");
  const json page = wait_for_turns(id, 2);

  ASSERT_EQ(page["turns"].size(), 2u) << page.dump();
  EXPECT_EQ(page["turns"][1]["text"], "Echo: Hello there");
  EXPECT_EQ(page["turns"][1]["bot"]["confidence"], 0.85);
  EXPECT_EQ(page["turns"][1]["bot"]["intent"], "echo");
  const auto requests = bot.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].target, "/bot");
  const json asked = json::parse(requests[0].body);
  EXPECT_EQ(asked["conversation_id"], id);
  EXPECT_EQ(asked["language"], "en");
  EXPECT_EQ(asked["turn"]["seq"], 1);
}

TEST_F(ConnectorsTest, RasaBotRepliesBecomeBotTurnsInOrder) {
  LoopbackServer bot([](const http::Request& request) {
    const json asked = json::parse(request.body);
    const json replies =
        json::array({{{"recipient_id", asked["sender"]}, {"text", "Hi!"}},
                     {{"recipient_id", asked["sender"]}, {"image", "x.png"}},
                     {{"recipient_id", asked["sender"]}, {"text", "How can I help?"}}});
    return LoopbackServer::Reply{200, replies.dump(), false};
  });
  start(webhook_connector(bot.url("/webhooks/rest/webhook"), "rasa"));
  const std::string id = create("en");

  user(id, "hi");
  const json page = wait_for_turns(id, 3);

  ASSERT_EQ(page["turns"].size(), 3u) << page.dump();
  EXPECT_EQ(page["turns"][1]["text"], "Hi!");
  EXPECT_EQ(page["turns"][2]["text"], "How can I help?");
  EXPECT_EQ(page["turns"][2]["id"], "bot-reply:1:2");
  EXPECT_FALSE(page["turns"][1]["bot"].contains("confidence"));
  EXPECT_EQ(json::parse(bot.requests().at(0).body)["sender"], id);
}

// Both ways a bot fails end alike: the user is told, and the rule bot-unreachable hands the
// conversation to a person (the state is checked by the caller: the handover follows the turn).
void expect_told_and_escalated(const json& page) {
  ASSERT_EQ(page["turns"].size(), 2u) << page.dump();
  const json& told = page["turns"][1];
  EXPECT_EQ(told["role"], "system");
  EXPECT_EQ(told["bot"]["unreachable"], true);
  EXPECT_EQ(told["metadata"]["message"], "bot_unavailable");
  EXPECT_NE(told["text"].get<std::string>().find("nicht erreichbar"), std::string::npos);
  const json& fired = told["evaluation"]["fired"];
  ASSERT_TRUE(fired.is_array()) << told.dump();
  bool unreachable = false;
  for (const auto& rule : fired) unreachable |= rule.value("id", "") == "bot-unreachable";
  EXPECT_TRUE(unreachable) << told.dump();
}

TEST_F(ConnectorsTest, ABotsRepliesAreMaskedLikeAnyStoredTurn) {
  LoopbackServer bot([](const http::Request&) {
    const json replies =
        json::array({{{"recipient_id", "x"},
                      {"text", "Ihre Karte 4111 1111 1111 1111, Mail max@example.com"}}});
    return LoopbackServer::Reply{200, replies.dump(), false};
  });
  start(webhook_connector(bot.url("/bot"), "rasa"));
  const std::string id = create("de");

  user(id, "Welche Karte ist hinterlegt?");
  const json page = wait_for_turns(id, 2);

  ASSERT_EQ(page["turns"].size(), 2u) << page.dump();
  EXPECT_EQ(page["turns"][1]["text"], "Ihre Karte [card:…1111], Mail [email]");
  EXPECT_EQ(page.dump().find("max@example.com"), std::string::npos);
}

TEST_F(ConnectorsTest, ASlowBotTimesOutAndTheUserIsTold) {
  LoopbackServer bot([](const http::Request&) { return LoopbackServer::Reply{200, "{}", true}; });
  start(webhook_connector(bot.url("/bot"), "handover", 300, 1));
  const std::string id = create("de");

  user(id, "Hallo?");
  const json page = wait_for_turns(id, 2);

  expect_told_and_escalated(page);
  EXPECT_EQ(wait_for_state(id, "queued"), "queued");
  EXPECT_EQ(bot.requests().size(), 2u);  // the first attempt and one retry
}

TEST_F(ConnectorsTest, ADownBotIsRetriedThenTheUserIsTold) {
  start(webhook_connector("http://127.0.0.1:" + std::to_string(closed_port()) + "/bot"));
  const std::string id = create("de");

  user(id, "Hallo?");
  const json page = wait_for_turns(id, 2);

  expect_told_and_escalated(page);
  EXPECT_EQ(wait_for_state(id, "queued"), "queued");
  HttpClient client(server_->port());
  const std::string metrics = client.request("GET", "/metrics").body;
  EXPECT_NE(metrics.find("handover_connector_bot_failures_total{reason=\"connect\"} 2"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("handover_connector_replies_total{result=\"unavailable\"} 1"),
            std::string::npos);
}

TEST_F(ConnectorsTest, TheBotIsNotAskedWhileAPersonHasTheConversation) {
  LoopbackServer bot([](const http::Request&) {
    return LoopbackServer::Reply{200, R"({"replies": [{"text": "bot"}]})", false};
  });
  start(webhook_connector(bot.url("/bot")));
  const std::string held = create("en");
  ASSERT_EQ(call("POST", "/v1/conversations/" + held + "/handover", "{}").status / 100, 2);
  const std::string free = create("en");

  user(held, "Are you there?");
  user(free, "Are you there?");
  wait_for_turns(free, 2);

  ASSERT_EQ(bot.requests().size(), 1u);
  EXPECT_EQ(json::parse(bot.requests()[0].body)["conversation_id"], free);
  EXPECT_EQ(turns(held)["turns"].size(), 1u);
}

bool verify(const http::Request& request) {
  return testing::verify_webhook_signature(request, kRawKey);
}

TEST_F(ConnectorsTest, WebhooksAreSignedAndRetriedAfterA500WithTheSameId) {
  LoopbackServer receiver;
  receiver.script({{500, "{}", false}});
  // The secret comes from the environment, as it should in production.
  ServerSettings settings = ServerSettings::yaml(
      "webhooks:\n  - name: crm\n    url: " + receiver.url("/hooks") +
      "\n    events: [handover.requested]\n    initial_backoff_ms: 50\n    max_backoff_ms: 200\n");
  settings.env = {"HANDOVER_WEBHOOKS_CRM_SECRET=whsec_" + crypto::base64_encode(kRawKey)};
  server_ = std::make_unique<ServerProcess>(settings);
  ASSERT_TRUE(server_->start()) << server_->log();
  const std::string id = create("en");

  user(id, "I want to talk to a human, please");
  ASSERT_EQ(receiver.wait_for_requests(2), 2u) << server_->log();

  const auto requests = receiver.requests();
  EXPECT_EQ(*requests[0].header("webhook-id"), *requests[1].header("webhook-id"));
  EXPECT_EQ(requests[0].header("webhook-id")->rfind("evt_", 0), 0u);
  EXPECT_TRUE(verify(requests[0]));
  EXPECT_TRUE(verify(requests[1]));
  const json body = json::parse(requests[1].body);
  EXPECT_EQ(body["type"], "handover.requested");
  EXPECT_EQ(body["data"]["conversation_id"], id);
  EXPECT_EQ(body["data"]["state"], "queued");
  EXPECT_TRUE(body.contains("timestamp"));
}

TEST_F(ConnectorsTest, WebhookPayloadsFollowThePrivacyPolicyForWebhooks) {
  LoopbackServer receiver;
  start("webhooks:\n  - name: crm\n    url: " + receiver.url("/hooks") + "\n    secret: whsec_" +
        crypto::base64_encode(kRawKey) + "\n    events: [turn.created]\n");
  const std::string id = create("de", "app");

  // The store keeps the IBAN's last digits (policy `partial`); webhooks get the kind only.
  user(id, "Meine IBAN ist DE89 3704 0044 0532 0130 00, bitte erstatten.");
  ASSERT_EQ(receiver.wait_for_requests(1), 1u) << server_->log();

  const json stored = turns(id)["turns"][0];
  EXPECT_NE(stored.value("text", "").find("[iban:…3000]"), std::string::npos) << stored;
  const std::string body = receiver.requests()[0].body;
  EXPECT_NE(body.find("[iban]"), std::string::npos) << body;
  EXPECT_EQ(body.find("3000"), std::string::npos) << body;
  EXPECT_EQ(body.find("DE89"), std::string::npos) << body;
}

TEST_F(ConnectorsTest, WebhookDeliveryResumesAfterARestart) {
  LoopbackServer receiver;
  const std::string secret = "whsec_" + crypto::base64_encode(kRawKey);
  start("webhooks:\n  - name: crm\n    url: " + receiver.url("/hooks") + "\n    secret: " + secret +
        "\n    events: [turn.created]\n    initial_backoff_ms: 50\n");
  const std::string id = create("en");
  user(id, "first");
  ASSERT_EQ(receiver.wait_for_requests(1), 1u);
  // Down for a while: the receiver refuses, and the server stops meanwhile.
  receiver.script({{503, "{}", false}, {503, "{}", false}, {503, "{}", false}});
  user(id, "second");
  ASSERT_GE(receiver.wait_for_requests(2), 2u);
  server_->stop();

  ASSERT_TRUE(server_->start()) << server_->log();
  user(id, "third");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::vector<std::string> delivered;
  while (std::chrono::steady_clock::now() < deadline) {
    delivered.clear();
    for (const auto& r : receiver.requests()) {
      const json body = json::parse(r.body);
      delivered.push_back(body["data"]["turn"]["text"]);
    }
    if (!delivered.empty() && delivered.back() == "third") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  ASSERT_FALSE(delivered.empty());
  EXPECT_EQ(delivered.front(), "first");
  EXPECT_EQ(delivered.back(), "third");
  const auto second = std::find(delivered.begin(), delivered.end(), "second");
  const auto third = std::find(delivered.begin(), delivered.end(), "third");
  EXPECT_LT(second, third);  // "second" went again after the restart, before "third"
  EXPECT_EQ(std::count(delivered.begin(), delivered.end(), "first"), 1);
}

}  // namespace
}  // namespace handover::testing
