// Request ids: which client ids are echoed, how the server makes its own, and that every
// answer, the network layer's own included, carries one.
#include "request_id.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "handover/logging/log.hpp"
#include "http/http_test_support.hpp"

namespace handover::http {
namespace {

using namespace testing;  // handover::http::testing

TEST(RequestId, AcceptsOnlyShortVisibleAscii) {
  struct Case {
    std::string id;
    bool acceptable;
  };
  const Case cases[] = {
      {"f47ac10b-58cc-4372-a567-0e02b2c3d479", true},
      {"a", true},
      {std::string(kMaxRequestIdLength, 'x'), true},
      {std::string(kMaxRequestIdLength + 1, 'x'), false},
      {"", false},
      {"with space", false},
      {"tab\there", false},
      {"del\x7f", false},
      {"K\xc3\xbcndigung", false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.id);
    EXPECT_EQ(is_acceptable_request_id(c.id), c.acceptable);
  }
}

TEST(RequestId, MadeIdsShareAPrefixAndNeverRepeat) {
  std::set<std::string> ids;
  std::string id;

  for (int i = 0; i < 1000; ++i) {
    next_request_id(id);
    ids.insert(id);
  }

  EXPECT_EQ(ids.size(), 1000u);
  const std::string prefix = ids.begin()->substr(0, 7);
  for (const auto& made : ids) {
    EXPECT_TRUE(is_acceptable_request_id(made)) << made;
    EXPECT_EQ(made.substr(0, 7), prefix);
    EXPECT_LE(made.size(), 15u);  // std::string's small-string buffer in libstdc++
  }
  EXPECT_EQ(prefix.back(), '-');
}

class RequestIdTest : public ::testing::Test {
 protected:
  // One request on a fresh connection; the answer's X-Request-Id.
  std::string answer_id(const std::string& request, unsigned expected_status = 200) {
    RawHttpClient client(server_.port());
    bhttp::response<bhttp::string_body> response;
    EXPECT_FALSE(client.exchange(request, response));
    EXPECT_EQ(response.result_int(), expected_status);
    return std::string(response["X-Request-Id"]);
  }

  // Keeps the request id each request carried.
  RecordingHandler handler_{[](const Request& request) { return request.request_id; }};
  RunningServer server_{ServerOptions{}, handler_};
};

TEST_F(RequestIdTest, EchoesASaneClientIdToHandlerObserverAndClient) {
  const std::string id = answer_id("GET / HTTP/1.1\r\nHost: t\r\nX-Request-Id: abc-123\r\n\r\n");

  EXPECT_EQ(id, "abc-123");
  EXPECT_EQ(handler_.seen(), std::vector<std::string>{"abc-123"});
  ASSERT_TRUE(server_.stop());
  EXPECT_EQ(server_.observer.seen_request_ids(), std::vector<std::string>{"abc-123"});
}

TEST_F(RequestIdTest, MakesOneWhenTheClientSentNoneOrAnUnfitOne) {
  const std::string none = answer_id("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
  const std::string spaced = answer_id("GET / HTTP/1.1\r\nHost: t\r\nX-Request-Id: a b\r\n\r\n");
  const std::string long_one = answer_id("GET / HTTP/1.1\r\nHost: t\r\nX-Request-Id: " +
                                         std::string(200, 'x') + "\r\n\r\n");

  for (const std::string& id : {none, spaced, long_one}) {
    EXPECT_TRUE(is_acceptable_request_id(id)) << id;
    EXPECT_LT(id.size(), 30u);
  }
  EXPECT_NE(none, spaced);
  EXPECT_EQ(handler_.seen(), (std::vector<std::string>{none, spaced, long_one}));
}

TEST_F(RequestIdTest, TheNetworkLayersOwnAnswersCarryOne) {
  const std::string no_host = answer_id("GET / HTTP/1.1\r\nX-Request-Id: r-1\r\n\r\n", 400);
  const std::string too_large = answer_id(
      "GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(10000, 'x') + "\r\n\r\n", 431);

  EXPECT_EQ(no_host, "r-1");
  EXPECT_TRUE(is_acceptable_request_id(too_large)) << too_large;
  ASSERT_TRUE(server_.stop());
  EXPECT_EQ(server_.observer.seen_request_ids(), (std::vector<std::string>{"r-1", too_large}));
}

// Logs a warning while it handles the request, as a handler does when the store fails.
class WarningHandler final : public Handler {
 public:
  void handle(Request, Responder respond) override {
    spdlog::warn("store failed conv={}", "c_1");
    respond(Response{});
  }
};

// Lines written during a request name its id, so they can be joined with its access line.
TEST(RequestIdLogging, WhatAHandlerLogsCarriesTheRequestsId) {
  std::ostringstream log;
  ASSERT_TRUE(logging::configure("info", "json",
                                 std::make_shared<spdlog::sinks::ostream_sink_mt>(log))
                  .is_ok());
  WarningHandler handler;
  RunningServer server(ServerOptions{}, handler);
  RawHttpClient client(server.port());
  bhttp::response<bhttp::string_body> sent_id;
  bhttp::response<bhttp::string_body> made_id;

  ASSERT_FALSE(client.exchange("GET / HTTP/1.1\r\nHost: t\r\nX-Request-Id: abc-123\r\n\r\n",
                               sent_id));
  ASSERT_FALSE(client.exchange("GET / HTTP/1.1\r\nHost: t\r\n\r\n", made_id));
  ASSERT_TRUE(server.stop());
  spdlog::warn("not during a request");
  ASSERT_TRUE(logging::configure("info", "text").is_ok());

  std::vector<nlohmann::json> lines;
  std::istringstream in(log.str());
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(lines.size(), 3u) << log.str();
  EXPECT_EQ(lines[0]["request_id"], "abc-123");
  EXPECT_EQ(lines[1]["request_id"], std::string(made_id["X-Request-Id"]));
  EXPECT_FALSE(lines[2].contains("request_id"));
}

}  // namespace
}  // namespace handover::http
