// The context snapshot end to end: a conversation with bot actions, low confidence and anger
// escalated by a trigger rule into a broadcast queue; the offers' snapshot checked against
// docs/snapshot.schema.json, fetched again over REST and the agent WebSocket.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "support/http_client.hpp"
#include "support/json_schema.hpp"
#include "support/server_process.hpp"
#include "support/ws_client.hpp"

namespace handover::testing {
namespace {

using nlohmann::json;

constexpr const char* kWsPath = "/v1/agents/ws";

std::string rules_yaml() {
  return "version: 1\n"
         "lexicons:\n"
         "  directory: " +
         std::string(HANDOVER_SOURCE_DIR) +
         "/config/lexicons\n"
         "  languages: [en, de]\n"
         "  emoji: emoji_utf8_lexicon.txt\n"
         "  emoji_language: en\n"
         "rules:\n"
         "  - {id: insult, when: anger.insult, action: escalate, priority: 90, queue: urgent}\n"
         "  - {id: watch-unsure, when: uncertainty.low_streak >= 1, action: escalate,"
         " priority: 10, mode: shadow, queue: urgent}\n";
}

const JsonSchema& schema() {
  static const JsonSchema loaded = [] {
    std::ifstream in(std::string(HANDOVER_SOURCE_DIR) + "/docs/snapshot.schema.json");
    std::ostringstream text;
    text << in.rdbuf();
    return JsonSchema(json::parse(text.str()));
  }();
  return loaded;
}

std::string schema_errors(const json& snapshot) {
  std::string out;
  for (const auto& error : schema().validate(snapshot)) out += error + "\n";
  return out;
}

// The snapshot member of an offer or snapshot frame exactly as sent: the server splices it
// in last, verbatim.
std::string snapshot_text(const std::string& frame) {
  const std::string key = ",\"snapshot\":";
  const auto at = frame.find(key);
  if (at == std::string::npos || frame.back() != '}') return {};
  return frame.substr(at + key.size(), frame.size() - at - key.size() - 1);
}

class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string rules = server_.dir() + "/triggers.yaml";
    std::ofstream(rules) << rules_yaml();
    server_.settings().args = {"--rules", rules};
    ASSERT_TRUE(server_.start()) << server_.log();
  }
  void TearDown() override {
    if (HasFailure()) std::fprintf(stderr, "server log:\n%s\n", server_.log().c_str());
  }

  HttpResponse call(const std::string& method, const std::string& target,
                    const std::string& body = {}, const std::string& key = kBotKey) {
    HttpClient client(server_.port());
    std::string headers = key.empty() ? std::string() : ServerProcess::bearer(key);
    if (!body.empty()) headers += "Content-Type: application/json\r\n";
    return client.request(method, target, body, headers);
  }

  json create(const json& body) {
    auto r = call("POST", "/v1/conversations", body.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json();
  }

  json post(const std::string& id, const json& turn) {
    auto r = call("POST", "/v1/conversations/" + id + "/turns", turn.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json();
  }

  // An agent on the WebSocket, past welcome and hello.
  std::unique_ptr<WsClient> agent(const std::string& id) {
    const json body = {{"id", id}, {"name", id}, {"capacity", 2}};
    auto created = call("POST", "/v1/admin/agents", body.dump(), kAdminKey);
    EXPECT_EQ(created.status, 201) << created.body;
    auto client = std::make_unique<WsClient>();
    EXPECT_TRUE(client->connect(server_.port(), kWsPath, created.json().value("token", "")));
    EXPECT_TRUE(client->read_type("welcome").has_value());
    client->send_json({{"type", "hello"}});
    EXPECT_TRUE(client->read_type("ack").has_value());
    return client;
  }

  // The lost-parcel conversation; its last user turn insults the bot and escalates.
  std::string escalated_conversation() {
    const json conv = create(
        {{"language", "en"},
         {"channel", "web"},
         {"customer",
          {{"id", "cust-9"}, {"name", "Jo Müller"}, {"tier", "gold"}, {"lifetime_value", 1800}}},
         {"metadata", {{"shop", "eu-1"}}}});
    const std::string id = conv.value("id", "");
    post(id, {{"role", "user"}, {"text", "Hello 👋"}});
    post(id, {{"role", "user"},
              {"text",
                "My order 48213 never arrived, and the tracking page says “délivré”."}});
    post(id, {{"role", "bot"},
              {"text", "Let me look that up."},
              {"bot", {{"confidence", 0.35}, {"intent", "order_status"}}},
              {"actions",
               {{{"name", "lookup_order"},
                 {"status", "failed"},
                 {"data", {{"error", "carrier timeout"}}}}}}});
    post(id, {{"role", "user"}, {"text", "Where is my parcel now?"}});
    post(id, {{"role", "bot"},
              {"text", "Sorry, I did not understand that."},
              {"bot", {{"confidence", 0.1}, {"fallback", true}}}});
    const json last = post(id, {{"role", "user"}, {"text", "You are a stupid useless bot!"}});
    EXPECT_EQ(last.value("state", ""), "queued") << last.dump();
    return id;
  }

  double metric(const std::string& name) {
    const std::string text = call("GET", "/metrics", {}, "").body;
    const auto at = text.find("\n" + name + " ");
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + name.size() + 2));
  }

  ServerProcess server_;
};

TEST_F(SnapshotTest, EveryOfferOfABroadcastCarriesTheSameSnapshotSerialisedOnce) {
  auto ana = agent("ana");
  auto ben = agent("ben");
  auto cem = agent("cem");
  const double before = metric("handover_snapshots_serialised_total");

  const std::string id = escalated_conversation();
  std::vector<std::string> texts;
  for (auto* client : {ana.get(), ben.get(), cem.get()}) {
    auto frame = client->read_type_text("offer");
    ASSERT_TRUE(frame.has_value());
    texts.push_back(snapshot_text(*frame));
  }
  const double after = metric("handover_snapshots_serialised_total");

  ASSERT_FALSE(texts[0].empty());
  EXPECT_EQ(texts[1], texts[0]);
  EXPECT_EQ(texts[2], texts[0]);
  EXPECT_EQ(before, 0);
  EXPECT_EQ(after, 1);
  EXPECT_EQ(json::parse(texts[0])["conversation"]["id"], id);
}

TEST_F(SnapshotTest, TheOfferedSnapshotIsSchemaValidAndTellsTheAgentWhatHappened) {
  auto ana = agent("ana");

  const std::string id = escalated_conversation();
  auto frame = ana->read_type_text("offer");
  ASSERT_TRUE(frame.has_value());
  const json s = json::parse(snapshot_text(*frame));

  EXPECT_EQ(schema_errors(s), "");
  EXPECT_EQ(s["snapshot_version"], 2);
  EXPECT_EQ(s["conversation"]["metadata"]["shop"], "eu-1");
  EXPECT_EQ(s["customer"]["name"], "Jo Müller");
  EXPECT_EQ(s["customer_value"]["tier"], "gold");
  const std::string hash =
      call("GET", "/v1/admin/rules", {}, kAdminKey).json()["active"].value("hash", "?");
  EXPECT_EQ(s["trigger"]["source"], "rules");
  EXPECT_EQ(s["trigger"]["rule"], "insult");
  EXPECT_EQ(s["trigger"]["turn_seq"], 6);
  EXPECT_EQ(s["trigger"]["rule_set"]["hash"], hash);
  ASSERT_FALSE(s["trigger"]["fired"].empty());
  EXPECT_FALSE(s["trigger"]["fired"][0]["evidence"].empty());
  EXPECT_EQ(s["bot_actions"][0]["name"], "lookup_order");
  EXPECT_EQ(s["bot_actions"][0]["status"], "failed");
  EXPECT_EQ(s["bot_actions"][0]["data"]["error"], "carrier timeout");
  ASSERT_EQ(s["confidence_history"].size(), 2u);
  EXPECT_TRUE(s["confidence_history"][0]["unsure"].get<bool>());
  EXPECT_TRUE(s["confidence_history"][1]["fallback"].get<bool>());
  EXPECT_TRUE(s["sentiment_timeline"].back()["insult"].get<bool>());
  EXPECT_EQ(s["summary"]["main_concern"][0]["seq"], 2);
  EXPECT_EQ(s["summary"]["open_questions"][0]["text"], "Where is my parcel now?");
  EXPECT_EQ(s["history"].size(), 6u);
  EXPECT_EQ(s["history"][1]["text"],
            "My order 48213 never arrived, and the tracking page says “délivré”.");
}

TEST_F(SnapshotTest, TheAgentCanFetchTheFrozenSnapshotAgain) {
  auto ana = agent("ana");
  const std::string id = escalated_conversation();
  auto offer = ana->read_type_text("offer");
  ASSERT_TRUE(offer.has_value());
  post(id, {{"role", "user"}, {"text", "Hello? Anyone there?"}});  // after the freeze

  auto rest = call("GET", "/v1/conversations/" + id + "/snapshot", {}, kReadKey);
  ana->send_json({{"type", "snapshot"}, {"ref", 5}, {"conversation_id", id}});
  auto frame = ana->read_type_text("snapshot");

  EXPECT_EQ(rest.status, 200) << rest.body;
  EXPECT_EQ(rest.header("content-type"), "application/json");
  EXPECT_EQ(rest.body, snapshot_text(*offer));
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(snapshot_text(*frame), snapshot_text(*offer));
  EXPECT_EQ(json::parse(*frame)["ref"], 5);
}

TEST_F(SnapshotTest, AnAgentWithoutTheOfferGetsAnErrorFrame) {
  auto ana = agent("ana");
  const std::string id = create({{"language", "en"}}).value("id", "");
  post(id, {{"role", "user"}, {"text", "I need help with a custom order."}});
  const json body = {{"reason", "sales"}, {"queue", "slow"}};  // one offer at a time
  ASSERT_EQ(call("POST", "/v1/conversations/" + id + "/handover", body.dump()).status, 202);
  ASSERT_TRUE(ana->read_type("offer").has_value());
  auto ben = agent("ben");  // came online after the offer went to ana

  ben->send_json({{"type", "snapshot"}, {"ref", "x"}, {"conversation_id", id}});
  auto error = ben->read_type("error");

  ASSERT_TRUE(error.has_value());
  EXPECT_EQ((*error)["code"], "not_assigned");
  EXPECT_EQ((*error)["ref"], "x");
}

TEST_F(SnapshotTest, SnapshotEndpointRefusesWhatItMust) {
  const json conv = create({{"language", "de"}});
  const std::string id = conv.value("id", "");
  const std::string token = conv.value("token", "");
  const std::string path = "/v1/conversations/" + id + "/snapshot";

  auto never = call("GET", path, {}, kReadKey);
  auto unknown = call("GET", "/v1/conversations/c_nobody/snapshot", {}, kReadKey);
  auto widget = call("GET", path, {}, kWidgetKey);
  auto by_token = call("GET", path, {}, token);
  auto anonymous = call("GET", path, {}, "");

  EXPECT_EQ(never.status, 404);
  EXPECT_EQ(never.json()["type"], "/problems/not-escalated");
  EXPECT_EQ(never.header("content-type"), "application/problem+json");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.json()["type"], "/problems/not-found");
  EXPECT_EQ(widget.status, 403);
  EXPECT_EQ(by_token.status, 401);
  EXPECT_EQ(anonymous.status, 401);
}

// Past 40 turns the snapshot is built after the deciding turn's commit, off the store's
// writer thread; the answer, the offer and the snapshot are the same as for a short one.
TEST_F(SnapshotTest, ALongConversationEscalatedByATurnIsHandedOverAfterItsCommit) {
  auto ana = agent("ana");
  const std::string id = create({{"language", "en"}}).value("id", "");
  for (int i = 1; i <= 45; ++i) {
    post(id, {{"role", i % 2 == 1 ? "user" : "bot"},
              {"text", "Message " + std::to_string(i) + " about the parcel"}});
  }
  const json last = post(id, {{"role", "user"}, {"text", "You are a stupid useless bot!"}});
  EXPECT_EQ(last.value("state", ""), "queued") << last.dump();

  auto frame = ana->read_type_text("offer");
  ASSERT_TRUE(frame.has_value());
  const json s = json::parse(snapshot_text(*frame));
  EXPECT_EQ(schema_errors(s), "");
  EXPECT_EQ(s["trigger"]["source"], "rules");
  EXPECT_EQ(s["history"].back()["seq"], 46);
  EXPECT_EQ(s["history"].back()["text"], "You are a stupid useless bot!");
  EXPECT_EQ(s["history"][0]["seq"], 1);
  EXPECT_EQ(metric("handover_snapshots_serialised_total"), 1);
  auto view = call("GET", "/v1/conversations/" + id);
  EXPECT_EQ(view.json().value("state", ""), "queued");
}

class TrimmedSnapshotTest : public SnapshotTest {
 protected:
  void SetUp() override {
    server_.settings().env = {"HANDOVER_SNAPSHOT_MAX_TURNS=20", "HANDOVER_SNAPSHOT_MAX_BYTES=4096"};
    SnapshotTest::SetUp();
  }
};

TEST_F(TrimmedSnapshotTest, ALongConversationIsTrimmedAsConfigured) {
  auto ana = agent("ana");
  const std::string id = create({{"language", "de"}}).value("id", "");
  post(id, {{"role", "user"}, {"text", "Meine Rechnung 5521 ist doppelt abgebucht worden."}});
  for (int i = 0; i < 40; ++i) {
    post(id, {{"role", i % 2 == 0 ? "bot" : "user"},
              {"text",
                "Nachricht " + std::to_string(i) + ": Grüße 📦 " + std::string(150, 'x')}});
  }
  const json body = {{"reason", "lange Unterhaltung"}, {"queue", "general"}};
  ASSERT_EQ(call("POST", "/v1/conversations/" + id + "/handover", body.dump()).status, 202);

  auto frame = ana->read_type_text("offer");
  ASSERT_TRUE(frame.has_value());
  const std::string text = snapshot_text(*frame);
  const json s = json::parse(text);

  EXPECT_EQ(schema_errors(s), "");
  EXPECT_EQ(s["trigger"]["source"], "api");
  EXPECT_EQ(s["trigger"]["reason"], "lange Unterhaltung");
  EXPECT_LE(s["history"].dump().size(), 4096u);
  EXPECT_EQ(s["history"][0]["seq"], 1);
  EXPECT_EQ(s["history"].back()["seq"], 41);
  EXPECT_EQ(s["history_trimmed"]["max_turns"], 20);
  EXPECT_EQ(s["history_trimmed"]["by_turn_limit"], 20);  // 41 turns: 20 read, plus the first
  EXPECT_EQ(s["history_trimmed"]["omitted_turns"], 41 - s["history"].size());
  EXPECT_EQ(s["summary"]["language"], "de");
  EXPECT_TRUE(s["summary"]["text"].get<std::string>().starts_with("Anliegen: Meine Rechnung"));
}

}  // namespace
}  // namespace handover::testing
