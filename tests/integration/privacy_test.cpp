// Privacy end to end on the real server binary: no raw personal data in the database file or
// the log after a scripted conversation, erasure that leaves no trace, a complete export,
// audit records for each read, agents refused conversations that are not theirs, retention
// on demand, and the privacy notice version.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "support/http_client.hpp"
#include "support/server_process.hpp"
#include "support/sse_client.hpp"
#include "support/ws_client.hpp"

namespace handover::testing {
namespace {

using nlohmann::json;

// Personal data the scripted conversation contains, as the customer typed it.
constexpr const char* kRawValues[] = {
    "erika.mustermann@example.de",
    "DE89 3704 0044 0532 0130 00",
    "DE89370400440532013000",
    "4111 1111 1111 1111",
    "4111111111111111",
    "030 1234567",
    "+49 171 9876543",
    "9876543",
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

class PrivacyTest : public ::testing::Test {
 protected:
  void start(const std::string& privacy_yaml = {}, std::vector<std::string> env = {}) {
    server_ = std::make_unique<ServerProcess>(ServerSettings::with(std::move(env), {}));
    if (!privacy_yaml.empty()) std::ofstream(server_->dir() + "/privacy.yaml") << privacy_yaml;
    ASSERT_TRUE(server_->start()) << server_->log();
  }
  void TearDown() override {
    if (HasFailure() && server_) std::fprintf(stderr, "server log:\n%s\n", server_->log().c_str());
  }

  HttpResponse call(const std::string& method, const std::string& target,
                    const std::string& body = {}, const std::string& key = kBotKey) {
    HttpClient client(server_->port());
    std::string headers = ServerProcess::bearer(key);
    if (!body.empty()) headers += "Content-Type: application/json\r\n";
    return client.request(method, target, body, headers);
  }
  json create(const json& body) {
    auto r = call("POST", "/v1/conversations", body.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json();
  }
  void post(const std::string& id, const std::string& role, const std::string& text,
            const std::string& key = kBotKey) {
    auto r = call("POST", "/v1/conversations/" + id + "/turns",
                  json{{"role", role}, {"text", text}}.dump(), key);
    EXPECT_EQ(r.status, 201) << r.body;
  }
  std::string create_agent(const std::string& id) {
    auto r = call("POST", "/v1/admin/agents", json{{"id", id}, {"name", id}}.dump(), kAdminKey);
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json().value("token", "");
  }
  std::unique_ptr<WsClient> connect(const std::string& token) {
    auto client = std::make_unique<WsClient>();
    EXPECT_TRUE(client->connect(server_->port(), "/v1/agents/ws", token));
    EXPECT_TRUE(client->read_type("welcome").has_value());
    client->send_json({{"type", "hello"}, {"ref", "h"}});
    return client;
  }
  json audit(const std::string& query) {
    auto r = call("GET", "/v1/audit?" + query, {}, kAdminKey);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json()["records"];
  }
  // Everything on disk after a clean stop: the database, its WAL (if any) and the log.
  std::string disk_after_stop() {
    EXPECT_EQ(server_->stop(), 0);
    return read_file(server_->db_path()) + read_file(server_->db_path() + "-wal") + server_->log();
  }

  std::unique_ptr<ServerProcess> server_;
};

TEST_F(PrivacyTest, ScriptedConversationLeavesNoRawPersonalDataOnDiskOrInLogs) {
  start({}, {"HANDOVER_LOG_LEVEL=debug"});
  const std::string ana = create_agent("ana");
  auto console = connect(ana);
  const json conv =
      create({{"language", "de"},
              {"customer", {{"id", "k-1"}, {"attributes", {{"note", "Tel 030 1234567"}}}}},
              {"metadata", {{"contact", "erika.mustermann@example.de"}}}});
  const std::string id = conv["id"];
  post(id, "user", "Hallo, ich bin erika.mustermann@example.de, Tel 030 1234567", conv["token"]);
  post(id, "bot", "Danke! Bitte nennen Sie Ihre IBAN.");
  post(id, "user", "DE89 3704 0044 0532 0130 00, Karte 4111 1111 1111 1111", conv["token"]);
  ASSERT_EQ(
      call("POST", "/v1/conversations/" + id + "/handover", R"({"reason":"x","queue":"general"})")
          .status,
      202);
  auto offer = console->read_type("offer");
  ASSERT_TRUE(offer.has_value());
  console->send_json({{"type", "accept"},
                      {"ref", "a"},
                      {"conversation_id", id},
                      {"offer_id", (*offer)["offer_id"]}});
  ASSERT_TRUE(console->read_type("assigned").has_value());
  post(id, "user", "Meine Handynummer: +49 171 9876543", conv["token"]);
  // The agent also gets what the server tells the user (system turns); the user's is wanted.
  auto relayed = console->read_type("turn");
  while (relayed && (*relayed)["turn"].value("role", "") == "system") {
    relayed = console->read_type("turn");
  }

  ASSERT_TRUE(relayed.has_value());
  EXPECT_EQ((*relayed)["turn"]["text"], "Meine Handynummer: [phone]");
  const std::string snapshot = (*offer)["snapshot"].dump();
  EXPECT_NE(snapshot.find("[iban:…3000], Karte [card:…1111]"), std::string::npos) << snapshot;
  auto stored = call("GET", "/v1/conversations/" + id + "/turns", {}, kReadKey).json();
  EXPECT_EQ(stored["turns"][0]["text"], "Hallo, ich bin [email], Tel [phone]");
  console->close();
  const std::string disk = disk_after_stop();
  for (const char* raw : kRawValues) {
    SCOPED_TRACE(raw);
    EXPECT_EQ(disk.find(raw), std::string::npos);
  }
}

TEST_F(PrivacyTest, ErasureWaitsWhileAConversationIsQueuedUntilAnAdminEndsTheWait) {
  start();
  const std::string id = create({{"customer", {{"id", "kunde-42"}}}})["id"];
  ASSERT_EQ(call("POST", "/v1/conversations/" + id + "/handover", R"({"reason":"x"})").status, 202);

  auto busy = call("DELETE", "/v1/customers/kunde-42", {}, kAdminKey);
  const std::string state = call("GET", "/v1/conversations/" + id, {}, kAdminKey).json()["state"];
  auto ended = call("POST", "/v1/admin/conversations/" + id + "/end-wait", {}, kAdminKey);
  auto erased = call("DELETE", "/v1/customers/kunde-42", {}, kAdminKey);

  EXPECT_EQ(busy.status, 409) << busy.body;
  EXPECT_EQ(state, "queued");
  EXPECT_EQ(ended.status, 200) << ended.body;
  ASSERT_EQ(erased.status, 200) << erased.body;
  EXPECT_EQ(erased.json()["erased"]["conversations"], 1);
}

TEST_F(PrivacyTest, ErasureOfAnIdleCustomerLeavesNoTraceInTheDatabase) {
  start();
  const std::string mine =
      create({{"customer", {{"id", "kunde-42"}, {"name", "Max Muster"}}}})["id"];
  const std::string also = create({{"customer", {{"id", "kunde-42"}}}})["id"];
  const std::string other = create({{"customer", {{"id", "kunde-7"}}}})["id"];
  post(mine, "user", "Geheimwort Zitronenfalter");
  post(also, "user", "Geheimwort Zitronenfalter");
  post(other, "user", "bleibt");
  ASSERT_EQ(call("GET", "/v1/conversations/" + mine, {}, kAdminKey).status, 200);

  auto first = call("DELETE", "/v1/customers/kunde-42", {}, kAdminKey);
  auto gone = call("GET", "/v1/conversations/" + mine, {}, kAdminKey);
  auto exported = call("GET", "/v1/customers/kunde-42/export", {}, kAdminKey);
  // Erasing again is harmless; it also takes the audit record of that export.
  auto second = call("DELETE", "/v1/customers/kunde-42", {}, kAdminKey);
  auto refused = call("DELETE", "/v1/customers/kunde-7", {}, kReadKey);

  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.json()["erased"],
            json({{"conversations", 2}, {"turns", 2}, {"events", 2}, {"audit_records", 1}}));
  ASSERT_EQ(second.status, 200);
  EXPECT_EQ(second.json()["erased"],
            json({{"conversations", 0}, {"turns", 0}, {"events", 0}, {"audit_records", 1}}));
  EXPECT_EQ(gone.status, 404);
  EXPECT_TRUE(exported.json()["conversations"].empty());
  EXPECT_EQ(refused.status, 403);
  auto erasures = audit("after=" + std::to_string(first.json()["audit_id"].get<int>() - 1));
  ASSERT_FALSE(erasures.empty());
  EXPECT_EQ(erasures[0]["action"], "customer.erase");
  EXPECT_TRUE(erasures[0]["customer_id"].is_null());
  const std::string disk = disk_after_stop();
  for (const char* trace : {"kunde-42", "Zitronenfalter", "Max Muster"}) {
    SCOPED_TRACE(trace);
    EXPECT_EQ(disk.find(trace), std::string::npos);
  }
  EXPECT_NE(disk.find("bleibt"), std::string::npos);
}

// A user who chatted without a customer id can still have their data erased: by the
// conversation's id, which the team finds by the contact details left in it.
TEST_F(PrivacyTest, ErasureOfAnAnonymousConversationTakesItsContactDetailsAndLeavesOthers) {
  start();
  const json created = create(json::object());
  const std::string mine = created["id"];
  const std::string token = created["token"];
  const std::string other = create(json::object())["id"];
  post(mine, "user", "Geheimwort Zitronenfalter");
  post(other, "user", "bleibt");
  // With nobody online the waiting user is offered to leave contact details.
  ASSERT_EQ(call("POST", "/v1/conversations/" + mine + "/handover", "{}").status, 202);
  auto left = call("POST", "/v1/conversations/" + mine + "/choice",
                   R"({"choice":"leave_contact","contact":{"name":"Erika Kontakt",)"
                   R"("phone":"+49 30 5550123"}})",
                   token);
  ASSERT_EQ(left.status, 200) << left.body;

  auto refused = call("DELETE", "/v1/conversations/" + mine, {}, kBotKey);
  auto first = call("DELETE", "/v1/conversations/" + mine, {}, kAdminKey);
  auto gone = call("GET", "/v1/conversations/" + mine, {}, kAdminKey);
  auto with_token = call("GET", "/v1/conversations/" + mine + "/turns", {}, token);
  auto second = call("DELETE", "/v1/conversations/" + mine, {}, kAdminKey);

  EXPECT_EQ(refused.status, 403);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.json()["conversation_id"], mine);
  EXPECT_EQ(first.json()["erased"]["conversations"], 1);
  // The user's turn, and the thanks for the contact details once the narrator has posted it.
  EXPECT_GE(first.json()["erased"]["turns"].get<int>(), 1);
  EXPECT_EQ(gone.status, 404);
  EXPECT_NE(with_token.status, 200);
  ASSERT_EQ(second.status, 200);
  EXPECT_EQ(second.json()["erased"]["conversations"], 0);
  auto erasures = audit("after=" + std::to_string(first.json()["audit_id"].get<int>() - 1));
  ASSERT_FALSE(erasures.empty());
  EXPECT_EQ(erasures[0]["action"], "conversation.erase");
  EXPECT_TRUE(erasures[0]["conversation_id"].is_null());
  EXPECT_EQ(call("GET", "/v1/conversations/" + other, {}, kAdminKey).status, 200);
  const std::string disk = disk_after_stop();
  for (const char* trace : {"Zitronenfalter", "Erika Kontakt", "5550123"}) {
    SCOPED_TRACE(trace);
    EXPECT_EQ(disk.find(trace), std::string::npos);
  }
  EXPECT_NE(disk.find("bleibt"), std::string::npos);
}

TEST_F(PrivacyTest, ErasureClosesTheCustomersOpenEventStreams) {
  start();
  const json mine = create({{"customer", {{"id", "kunde-42"}}}});
  const std::string other = create({{"customer", {{"id", "kunde-7"}}}})["id"];
  const std::string id = mine["id"];
  SseClient customer(server_->port());
  ASSERT_EQ(customer.open("/v1/conversations/" + id + "/events",
                          ServerProcess::bearer(mine["token"].get<std::string>())),
            200);
  SseClient integration(server_->port());
  ASSERT_EQ(integration.open("/v1/conversations/" + other + "/events",
                             ServerProcess::bearer(kReadKey)),
            200);
  post(id, "user", "hello");
  ASSERT_TRUE(customer.next_of("turn.created").has_value());

  ASSERT_EQ(call("DELETE", "/v1/customers/kunde-42", {}, kAdminKey).status, 200);
  // Reads what was still on its way until the stream ends, or for 5 s without an event.
  while (customer.next(5000).has_value()) {
  }
  post(other, "user", "still streaming");

  EXPECT_TRUE(customer.closed());
  EXPECT_TRUE(integration.next_of("turn.created").has_value());
}

TEST_F(PrivacyTest, ExportHoldsConversationsTurnsEventsAndAuditRecords) {
  start();
  const std::string id = create({{"customer", {{"id", "k-9"}, {"name", "Eva"}}}})["id"];
  post(id, "user", "erste Frage");
  post(id, "bot", "erste Antwort");
  ASSERT_EQ(call("GET", "/v1/conversations/" + id + "/turns", {}, kAdminKey).status, 200);
  ASSERT_EQ(call("POST", "/v1/conversations/" + id + "/handover", R"({"reason":"x"})").status, 202);

  auto r = call("GET", "/v1/customers/k-9/export", {}, kAdminKey);

  ASSERT_EQ(r.status, 200) << r.body;
  const json out = r.json();
  ASSERT_EQ(out["conversations"].size(), 1u);
  const json& conv = out["conversations"][0];
  EXPECT_EQ(conv["customer"]["name"], "Eva");
  // The handover adds what the server told the user (system turns) at its own pace.
  json customer_turns = json::array();
  for (const auto& turn : conv["turns"]) {
    if (turn.value("role", "") != "system") customer_turns.push_back(turn);
  }
  ASSERT_EQ(customer_turns.size(), 2u) << conv["turns"];
  EXPECT_EQ(customer_turns[1]["text"], "erste Antwort");
  EXPECT_FALSE(conv["events"].empty());
  ASSERT_EQ(out["audit"].size(), 1u);
  EXPECT_EQ(out["audit"][0]["action"], "turns.read");
  const json records = audit("customer_id=k-9");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1]["action"], "customer.export");
  // An empty filter is no filter in disguise: refused, not answered with every record.
  for (const char* empty : {"customer_id=", "conversation_id="}) {
    auto refused = call("GET", std::string("/v1/audit?") + empty, {}, kAdminKey);
    EXPECT_EQ(refused.status, 422) << empty << " " << refused.body;
  }
}

TEST_F(PrivacyTest, AgentsReadOnlyWhatIsOfferedOrAssignedAndEveryReadIsAudited) {
  start();
  const std::string ana = create_agent("ana");
  const std::string ben = create_agent("ben");
  auto console = connect(ana);
  const std::string id = create({{"customer", {{"id", "k-5"}}}})["id"];
  post(id, "user", "Karte 4111 1111 1111 1111");
  ASSERT_EQ(call("POST", "/v1/conversations/" + id + "/handover", R"({"reason":"x"})").status, 202);
  auto offer = console->read_type("offer");
  ASSERT_TRUE(offer.has_value());

  auto offered = call("GET", "/v1/conversations/" + id, {}, ana);
  auto stranger = call("GET", "/v1/conversations/" + id, {}, ben);
  auto strangers_turns = call("GET", "/v1/conversations/" + id + "/turns", {}, ben);
  auto write =
      call("POST", "/v1/conversations/" + id + "/turns", R"({"role":"user","text":"x"})", ana);
  console->send_json({{"type", "accept"},
                      {"ref", "a"},
                      {"conversation_id", id},
                      {"offer_id", (*offer)["offer_id"]}});
  ASSERT_TRUE(console->read_type("assigned").has_value());
  auto assigned = call("GET", "/v1/conversations/" + id + "/turns", {}, ana);
  auto unknown = call("GET", "/v1/conversations/c_nonexistent", {}, ana);
  auto bad_token = call("GET", "/v1/conversations/" + id, {}, "hat_not-a-token");

  EXPECT_EQ(offered.status, 200) << offered.body;
  EXPECT_EQ(stranger.status, 403);
  EXPECT_EQ(strangers_turns.status, 403);
  EXPECT_EQ(write.status, 403);
  ASSERT_EQ(assigned.status, 200) << assigned.body;
  EXPECT_EQ(assigned.json()["turns"][0]["text"], "Karte [card:…1111]");
  EXPECT_FALSE(assigned.json()["turns"][0].contains("evaluation"));
  EXPECT_EQ(unknown.status, 403);
  EXPECT_EQ(bad_token.status, 401);
  const json all = audit("conversation_id=" + id);
  ASSERT_FALSE(all.empty());
  // The offer itself showed ana the snapshot. What else was pushed (the relay of the
  // narrator's system turns) depends on timing; the REST reads are checked below.
  EXPECT_EQ(all[0]["actor"], json({{"kind", "agent"}, {"id", "ana"}}));
  EXPECT_EQ(all[0]["action"], "offer.sent");
  EXPECT_EQ(all[0]["customer_id"], "k-5");
  const auto reads = [](const json& listed) {
    json out = json::array();
    for (const auto& record : listed) {
      if (record["action"].get<std::string>().ends_with(".read")) out.push_back(record);
    }
    return out;
  };
  const json records = reads(all);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0]["actor"], json({{"kind", "agent"}, {"id", "ana"}}));
  EXPECT_EQ(records[0]["action"], "conversation.read");
  EXPECT_EQ(records[0]["reason"], "offered");
  EXPECT_EQ(records[1]["action"], "turns.read");
  EXPECT_EQ(records[1]["reason"], "assigned");
  EXPECT_EQ(records[1]["customer_id"], "k-5");
  // Times with an offset are RFC 3339 too.
  EXPECT_EQ(reads(audit("conversation_id=" + id + "&from=2000-01-01T01:00:00%2B01:00")).size(),
            2u);
}

// The agent policy hides more than the store's: also in the profile's free-form attributes
// and the conversation's metadata, over REST and in the offer's snapshot.
TEST_F(PrivacyTest, AgentsSeeAttributesAndMetadataAsTheAgentPolicyMasksThem) {
  start(
      "detect:\n  patterns:\n    - {name: customer_no, regex: 'KD-[0-9]{6}'}\n"
      "policies:\n  store: {default: partial}\n  agent: {default: mask}\n");
  const std::string ana = create_agent("ana");
  auto console = connect(ana);
  const json customer = {{"id", "k-6"}, {"attributes", {{"kd", "KD-123456"}}}};
  const std::string id =
      create({{"customer", customer}, {"metadata", {{"k", "KD-654321"}}}})["id"];
  ASSERT_EQ(call("POST", "/v1/conversations/" + id + "/handover", R"({"reason":"x"})").status, 202);

  auto offer = console->read_type("offer");
  auto read = call("GET", "/v1/conversations/" + id, {}, ana);
  auto admin = call("GET", "/v1/conversations/" + id, {}, kAdminKey);

  ASSERT_TRUE(offer.has_value());
  const json& snapshot = (*offer)["snapshot"];
  EXPECT_EQ(snapshot["customer"]["attributes"]["kd"], "[customer_no]") << snapshot["customer"];
  EXPECT_EQ(snapshot["conversation"]["metadata"]["k"], "[customer_no]");
  ASSERT_EQ(read.status, 200) << read.body;
  EXPECT_EQ(read.json()["customer"]["attributes"]["kd"], "[customer_no]");
  EXPECT_EQ(read.json()["metadata"]["k"], "[customer_no]");
  // Stored as the store policy masked it, which the admin sees.
  EXPECT_EQ(admin.json()["customer"]["attributes"]["kd"], "[customer_no:…3456]");
}

TEST_F(PrivacyTest, WhatAgentsAndHandoverReasonsSayIsStoredMaskedAndLeavesNoRawValue) {
  start();
  auto console = connect(create_agent("ana"));
  const std::string id = create({{"customer", {{"id", "k-9"}}}})["id"];
  post(id, "user", "Ich brauche Hilfe");
  // The reason of a handover asked for over the API is free text too.
  ASSERT_EQ(call("POST", "/v1/conversations/" + id + "/handover",
                 R"({"reason":"Rueckruf an erika.mustermann@example.de"})")
                .status,
            202);
  auto offer = console->read_type("offer");
  ASSERT_TRUE(offer.has_value());
  console->send_json(
      {{"type", "accept"}, {"conversation_id", id}, {"offer_id", (*offer)["offer_id"]}});
  ASSERT_TRUE(console->read_type("assigned").has_value());
  const json message = {{"type", "message"},
                        {"ref", "m"},
                        {"conversation_id", id},
                        {"id", "m-1"},
                        {"text", "Erstattet an DE89370400440532013000, Rückfragen an "
                                 "erika.mustermann@example.de"}};
  console->send_json(message);
  std::optional<json> ack = console->read_type("ack");
  while (ack && (*ack).value("ref", "") != "m") ack = console->read_type("ack");
  console->send_json(message);  // a retry of the same message
  std::optional<json> retry = console->read_type("ack");
  while (retry && (*retry).value("ref", "") != "m") retry = console->read_type("ack");
  console->send_json({{"type", "resolve"},
                      {"ref", "r"},
                      {"conversation_id", id},
                      {"feedback", {{"justified", "yes"}, {"note", "Karte 4111 1111 1111 1111"}}}});
  ASSERT_TRUE(console->read_type("unassigned").has_value());

  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ((*ack)["turn"]["text"], "Erstattet an [iban:…3000], Rückfragen an [email]");
  ASSERT_TRUE(retry.has_value());
  EXPECT_EQ((*retry)["replayed"], true) << "a retry masks to the same text";
  console.reset();  // else the stop waits for its close handshake
  const std::string disk = disk_after_stop();
  for (const char* raw : kRawValues) EXPECT_EQ(disk.find(raw), std::string::npos) << raw;
}

TEST_F(PrivacyTest, AdminReadsOfTheSnapshotAndTheEventStreamAreAudited) {
  start();
  const std::string id = create({{"customer", {{"id", "k-7"}}}})["id"];
  post(id, "user", "Wo ist mein Paket?");
  ASSERT_EQ(call("POST", "/v1/conversations/" + id + "/handover", R"({"reason":"x"})").status, 202);

  auto snapshot = call("GET", "/v1/conversations/" + id + "/snapshot", {}, kAdminKey);
  SseClient stream(server_->port());
  const int opened =
      stream.open("/v1/conversations/" + id + "/events", ServerProcess::bearer(kAdminKey));
  const json records = audit("customer_id=k-7");

  EXPECT_EQ(snapshot.status, 200) << snapshot.body;
  EXPECT_EQ(opened, 200);
  std::vector<std::string> actions;
  for (const auto& record : records) actions.push_back(record["action"]);
  EXPECT_EQ(actions, (std::vector<std::string>{"snapshot.read", "events.read"}));
}

TEST_F(PrivacyTest, RetentionRunDeletesWhatIsDueAndCountsIt) {
  start("retention:\n  turns: 1s\n  snapshots: 1s\n  interval: 1d\n");
  const std::string id = create({{"language", "de"}})["id"];
  post(id, "user", "alt eins");
  post(id, "user", "alt zwei");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  post(id, "user", "neu");

  auto run = call("POST", "/v1/admin/retention/run", {}, kAdminKey);
  auto turns = call("GET", "/v1/conversations/" + id + "/turns", {}, kReadKey);
  auto metrics = call("GET", "/metrics");

  ASSERT_EQ(run.status, 200) << run.body;
  EXPECT_EQ(run.json()["rows"]["turns"], 2);
  ASSERT_EQ(turns.json()["turns"].size(), 1u);
  EXPECT_EQ(turns.json()["turns"][0]["text"], "neu");
  EXPECT_NE(metrics.body.find("handover_retention_deleted_total{class=\"turns\"} 2"),
            std::string::npos);
  EXPECT_NE(server_->log().find("retention run"), std::string::npos);
  // As after an erasure, the deleted texts are neither in the database nor left in its WAL.
  const std::string disk = read_file(server_->db_path()) + read_file(server_->db_path() + "-wal");
  EXPECT_EQ(disk.find("alt eins"), std::string::npos);
  EXPECT_NE(disk.find("neu"), std::string::npos);
}

// Why a conversation was handed over quotes what was written: the words the rules matched, a
// bot's hedging sentence, the reason of a handover asked for over the API. Those copies go with
// the turns; the handovers, their rules and signal families stay for the analytics.
TEST_F(PrivacyTest, RetentionStripsWhatHandoverReasonsQuoteWithTheTurns) {
  start("retention:\n  turns: 1s\n  snapshots: 1s\n  interval: 1d\n");
  auto back_to_bot = [this](const std::string& id) {
    auto r = call("POST", "/v1/conversations/" + id + "/choice", R"({"choice":"back_to_bot"})");
    EXPECT_EQ(r.status, 200) << r.body;
  };
  const std::string asked = create({{"language", "de"}})["id"];
  post(asked, "user", "Ich will sofort mit einem Menschen sprechen, ihr Idioten!");
  back_to_bot(asked);
  auto hedged = call("POST", "/v1/conversations/" + asked + "/turns",
                     json{{"role", "bot"},
                          {"text", "Ich bin mir nicht sicher, vielleicht hilft das"},
                          {"bot", {{"handover", {{"reason", "Kundin Zwetschge"}}}}}}
                         .dump());
  ASSERT_EQ(hedged.json()["decision"]["rule"], "bot-proposes-handover") << hedged.body;
  back_to_bot(asked);
  const std::string manual = create({{"language", "de"}})["id"];
  ASSERT_EQ(call("POST", "/v1/conversations/" + manual + "/handover",
                 R"({"reason":"Rueckruf an Herrn Quastenflosser"})")
                .status,
            202);
  back_to_bot(manual);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));

  auto run = call("POST", "/v1/admin/retention/run", {}, kAdminKey);
  auto figures = call("GET", "/v1/analytics/handovers", {}, kReadKey);

  ASSERT_EQ(run.status, 200) << run.body;
  EXPECT_EQ(run.json()["rows"]["event_texts"], 3);
  ASSERT_EQ(figures.status, 200) << figures.body;
  EXPECT_EQ(figures.json()["escalations_by_rule"],
            (json{{"explicit-request", 1}, {"bot-proposes-handover", 1}, {"(manual)", 1}}));
  EXPECT_EQ(figures.json()["escalations_by_family"]["request"], 1);
  const std::string disk = read_file(server_->db_path()) + read_file(server_->db_path() + "-wal");
  for (const char* quoted : {"idioten", "Idioten", "menschen", "Menschen", "vielleicht hilft",
                             "Zwetschge", "Quastenflosser"}) {
    EXPECT_EQ(disk.find(quoted), std::string::npos) << quoted;
  }
}

TEST_F(PrivacyTest, ASnapshotRemovedByRetentionIsGoneNotNeverMade) {
  start("retention:\n  snapshots: 1s\n  interval: 1d\n");
  const std::string id = create({{"language", "de"}})["id"];
  post(id, "user", "Wo ist mein Paket?");
  ASSERT_EQ(call("POST", "/v1/conversations/" + id + "/handover", R"({"reason":"x"})").status, 202);
  ASSERT_EQ(call("POST", "/v1/conversations/" + id + "/choice", R"({"choice":"back_to_bot"})")
                .status,
            200);
  auto before = call("GET", "/v1/conversations/" + id + "/snapshot", {}, kAdminKey);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));

  ASSERT_EQ(call("POST", "/v1/admin/retention/run", {}, kAdminKey).status, 200);
  auto after = call("GET", "/v1/conversations/" + id + "/snapshot", {}, kAdminKey);
  auto never = call("GET", "/v1/conversations/" + create(json::object())["id"].get<std::string>() +
                               "/snapshot",
                    {}, kAdminKey);

  EXPECT_EQ(before.status, 200) << before.body;
  EXPECT_EQ(after.status, 410) << after.body;
  EXPECT_NE(after.body.find("removed by retention"), std::string::npos) << after.body;
  EXPECT_EQ(never.status, 404) << never.body;
}

TEST_F(PrivacyTest, StoresThePrivacyNoticeVersionAndRefusesUnknownOnes) {
  start("notice:\n  versions: [\"2024-05\"]\n");

  auto known = call("POST", "/v1/conversations", R"({"privacy_notice_version":"2024-05"})");
  auto unknown = call("POST", "/v1/conversations", R"({"privacy_notice_version":"1999-01"})");

  ASSERT_EQ(known.status, 201) << known.body;
  EXPECT_EQ(known.json()["privacy_notice_version"], "2024-05");
  EXPECT_EQ(unknown.status, 422);
  EXPECT_EQ(unknown.json()["errors"][0]["pointer"], "/privacy_notice_version");
}

TEST(PrivacyCli, CheckConfigReportsABadPrivacyFileWithItsPosition) {
  ServerProcess server;
  std::ofstream(server.dir() + "/privacy.yaml") << "retention:\n  turns: soon\n";

  RunResult result =
      run_server_binary({"--config", server.config_path(), "--check-config", "--rules",
                         std::string(HANDOVER_SOURCE_DIR) + "/config/triggers.yaml"});

  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("privacy.yaml:2:10: expected a period"), std::string::npos)
      << result.output;
}

// Snapshots copy the turns: a file that keeps them longer than the turns does not start.
TEST(PrivacyCli, CheckConfigRefusesSnapshotsKeptLongerThanTheTurns) {
  ServerProcess server;
  std::ofstream(server.dir() + "/privacy.yaml") << "retention:\n  turns: 7d\n  snapshots: 30d\n";

  RunResult result =
      run_server_binary({"--config", server.config_path(), "--check-config", "--rules",
                         std::string(HANDOVER_SOURCE_DIR) + "/config/triggers.yaml"});

  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("privacy.yaml:3:3: retention.snapshots (30d) is longer than "
                               "retention.turns (7d)"),
            std::string::npos)
      << result.output;
}

}  // namespace
}  // namespace handover::testing
