// Shared fixture: one running server per test suite plus request helpers.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "support/http_client.hpp"
#include "support/server_process.hpp"

namespace handover::testing {

class ApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerProcess();
    ASSERT_TRUE(server_->start()) << server_->log();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  static std::uint16_t port() { return server_->port(); }

  static HttpResponse call(const std::string& method, const std::string& target,
                           const std::string& body = {}, const std::string& key = kBotKey,
                           const std::string& extra_headers = {}) {
    HttpClient client(port());
    std::string headers = extra_headers;
    if (!key.empty()) headers += ServerProcess::bearer(key);
    if (!body.empty()) headers += "Content-Type: application/json\r\n";
    return client.request(method, target, body, headers);
  }

  // Creates a conversation with the bot key; returns its JSON (id, token, ...).
  static nlohmann::json create_conversation(const std::string& body = R"({"language":"de"})") {
    auto r = call("POST", "/v1/conversations", body);
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json();
  }

  static std::string turns_path(const std::string& id) {
    return "/v1/conversations/" + id + "/turns";
  }

  inline static ServerProcess* server_ = nullptr;
};

}  // namespace handover::testing
