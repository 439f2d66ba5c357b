// Shared fixture for tests that drive agents end to end: the real server binary (one per
// test, queues in kTestRoutingYaml), agents on real WebSockets over loopback, conversations
// and handovers over REST.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/http_client.hpp"
#include "support/server_process.hpp"
#include "support/ws_client.hpp"

namespace handover::testing {

using nlohmann::json;

inline constexpr const char* kWsPath = "/v1/agents/ws";

struct AgentSpec {
  std::string id;
  std::vector<std::string> skills = {};
  std::vector<std::string> languages = {};
  int capacity = 1;
};

class AgentsFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServerProcess>();
    ASSERT_TRUE(server_->start()) << server_->log();
  }
  void TearDown() override {
    if (HasFailure()) std::fprintf(stderr, "server log:\n%s\n", server_->log().c_str());
  }

  HttpResponse call(const std::string& method, const std::string& target,
                    const std::string& body = {}, const std::string& key = kBotKey) {
    HttpClient client(server_->port());
    std::string headers = ServerProcess::bearer(key);
    if (!body.empty()) headers += "Content-Type: application/json\r\n";
    return client.request(method, target, body, headers);
  }

  // Creates the agent; returns its token.
  std::string create_agent(const AgentSpec& spec) {
    const json body = {{"id", spec.id},
                       {"name", spec.id},
                       {"display_name", "Agent " + spec.id},
                       {"skills", spec.skills},
                       {"languages", spec.languages},
                       {"capacity", spec.capacity}};
    auto r = call("POST", "/v1/admin/agents", body.dump(), kAdminKey);
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json().value("token", "");
  }

  // Connects with the token, reads the welcome and sends hello (with resume_after if given).
  std::unique_ptr<WsClient> connect(const std::string& token,
                                    std::optional<std::int64_t> resume_after = std::nullopt) {
    auto client = std::make_unique<WsClient>();
    EXPECT_TRUE(client->connect(server_->port(), kWsPath, token)) << client->refused_body();
    auto welcome = client->read_type("welcome");
    EXPECT_TRUE(welcome.has_value());
    json hello = {{"type", "hello"}, {"ref", "h"}};
    if (resume_after) hello["resume_after"] = *resume_after;
    client->send_json(hello);
    return client;
  }

  std::unique_ptr<WsClient> agent(const AgentSpec& spec) { return connect(create_agent(spec)); }

  std::string create_conversation(const std::string& language = "de",
                                  const std::string& customer = {}) {
    json body = {{"language", language}};
    if (!customer.empty()) body["customer"] = {{"id", customer}};
    auto r = call("POST", "/v1/conversations", body.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json().value("id", "");
  }

  HttpResponse handover(const std::string& conversation, const std::string& queue,
                        int priority = 0) {
    json body = {{"reason", "customer asked for a person"}, {"priority", priority}};
    if (!queue.empty()) body["queue"] = queue;
    return call("POST", "/v1/conversations/" + conversation + "/handover", body.dump());
  }

  std::string escalate(const std::string& queue = "general", int priority = 0,
                       const std::string& language = "de") {
    const std::string id = create_conversation(language);
    auto r = handover(id, queue, priority);
    EXPECT_EQ(r.status, 202) << r.body;
    return id;
  }

  std::string state_of(const std::string& conversation) {
    return call("GET", "/v1/conversations/" + conversation).json().value("state", "");
  }

  HttpResponse post_turn(const std::string& conversation, const std::string& role,
                         const std::string& text) {
    const json body = {{"role", role}, {"text", text}};
    return call("POST", "/v1/conversations/" + conversation + "/turns", body.dump());
  }

  // The next relayed turn of the user (or the agent), skipping what the server told the user:
  // system turns reach the agent too, at moments the tests do not control.
  static std::optional<json> read_customer_turn(WsClient& client) {
    for (auto frame = client.read_type("turn"); frame; frame = client.read_type("turn")) {
      if ((*frame)["turn"].value("role", "") != "system") return frame;
    }
    return std::nullopt;
  }

  // The stored turns of the conversation without the system turns.
  json turns_without_system(const std::string& conversation) {
    json out = json::array();
    const json stored = call("GET", "/v1/conversations/" + conversation + "/turns").json();
    for (const auto& turn : stored.value("turns", json::array())) {
      if (turn.value("role", "") != "system") out.push_back(turn);
    }
    return out;
  }

  // Accepts the offer frame and waits for the ack; returns the assigned frame before it.
  static json accept(WsClient& client, const json& offer) {
    client.send_json({{"type", "accept"},
                      {"ref", "acc"},
                      {"conversation_id", offer["conversation_id"]},
                      {"offer_id", offer["offer_id"]}});
    json assigned;
    for (auto frame = client.read(); frame; frame = client.read()) {
      if (frame->value("type", "") == "assigned") assigned = *frame;
      // The ack of the hello may come after the offer the test accepts here.
      if (frame->value("type", "") != "ack" || frame->value("for", "") != "accept") continue;
      EXPECT_EQ((*frame)["ref"], "acc");
      EXPECT_TRUE(assigned.is_object()) << "no assigned frame before the ack";
      return assigned;
    }
    ADD_FAILURE() << "no ack for the accept";
    return assigned;
  }

  std::unique_ptr<ServerProcess> server_;
};

}  // namespace handover::testing
