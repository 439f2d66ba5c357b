// The customer event stream against the real server: replay, live events, resume with
// Last-Event-ID after a dropped connection, the two audiences and the errors.
#include <gtest/gtest.h>

#include <set>

#include "api_fixture.hpp"
#include "support/sse_client.hpp"

namespace handover::testing {
namespace {

class EventStreamTest : public ApiTest {
 protected:
  static std::string events_path(const std::string& id) {
    return "/v1/conversations/" + id + "/events";
  }

  static void post_user(const nlohmann::json& conv, const std::string& text) {
    HttpClient client(port());
    const auto body = nlohmann::json{{"role", "user"}, {"text", text}}.dump();
    auto r = client.request("POST", turns_path(conv["id"]), body,
                            ServerProcess::bearer(conv["token"].get<std::string>()) +
                                "Content-Type: application/json\r\n");
    ASSERT_EQ(r.status, 201) << r.body;
  }

  static std::string token_header(const nlohmann::json& conv) {
    return ServerProcess::bearer(conv["token"].get<std::string>());
  }
};

TEST_F(EventStreamTest, ReplaysStoredTurnsThenFollowsLive) {
  const auto conv = create_conversation();
  post_user(conv, "Hallo, wo ist mein Paket?");

  SseClient stream(port());
  ASSERT_EQ(stream.open(events_path(conv["id"]), token_header(conv)), 200);
  EXPECT_EQ(stream.header("content-type"), "text/event-stream; charset=utf-8");
  auto first = stream.next_of("turn.created");
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->id.empty());
  EXPECT_EQ(first->data["data"]["turn"]["text"], "Hallo, wo ist mein Paket?");
  EXPECT_EQ(first->data["data"]["turn"]["role"], "user");

  post_user(conv, "Bestellung 4711");
  auto live = stream.next_of("turn.created");
  ASSERT_TRUE(live);
  EXPECT_EQ(live->data["data"]["turn"]["text"], "Bestellung 4711");
  EXPECT_GT(std::stoll(live->id), std::stoll(first->id));
}

TEST_F(EventStreamTest, ResumesAfterADroppedConnectionWithoutLossOrDuplicates) {
  const auto conv = create_conversation();
  post_user(conv, "eins");
  std::string last_id;
  {
    SseClient stream(port());
    ASSERT_EQ(stream.open(events_path(conv["id"]), token_header(conv)), 200);
    auto event = stream.next_of("turn.created");
    ASSERT_TRUE(event);
    last_id = event->id;
  }  // the connection drops here
  post_user(conv, "zwei");
  post_user(conv, "drei");

  SseClient resumed(port());
  ASSERT_EQ(resumed.open(events_path(conv["id"]),
                         token_header(conv) + "Last-Event-ID: " + last_id + "\r\n"),
            200);
  std::vector<std::string> texts;
  std::set<std::string> ids;
  while (auto event = resumed.next(1500)) {
    if (event->event != "turn.created") continue;
    texts.push_back(event->data["data"]["turn"]["text"]);
    EXPECT_TRUE(ids.insert(event->id).second) << "event " << event->id << " sent twice";
  }
  EXPECT_EQ(texts, (std::vector<std::string>{"zwei", "drei"}));
}

TEST_F(EventStreamTest, AnApiKeyInTheUrlIsRefused) {
  const auto conv = create_conversation();

  SseClient by_query(port());
  SseClient by_header(port());

  EXPECT_EQ(by_query.open(events_path(conv["id"]) + "?access_token=" + kAdminKey), 401);
  EXPECT_EQ(by_header.open(events_path(conv["id"]), ServerProcess::bearer(kAdminKey)), 200);
}

TEST_F(EventStreamTest, CustomersDoNotSeeTheEvaluationIntegrationsDo) {
  const auto conv = create_conversation();
  post_user(conv, "Das ist eine Frechheit, ich will sofort einen Menschen sprechen!");

  SseClient customer(port());
  ASSERT_EQ(customer.open(events_path(conv["id"]) + "?access_token=" +
                          conv["token"].get<std::string>()),
            200);
  auto seen = customer.next_of("turn.created");
  ASSERT_TRUE(seen);
  EXPECT_FALSE(seen->data["data"]["turn"].contains("evaluation"));
  auto requested = customer.next_of("handover.requested");
  ASSERT_TRUE(requested);
  EXPECT_EQ(requested->data["data"]["state"], "queued");
  EXPECT_FALSE(requested->data["data"].contains("reasons"));

  SseClient integration(port());
  ASSERT_EQ(integration.open(events_path(conv["id"]), ServerProcess::bearer(kReadKey)), 200);
  auto full = integration.next_of("turn.created");
  ASSERT_TRUE(full);
  EXPECT_TRUE(full->data["data"]["turn"].contains("evaluation"));
  auto reasons = integration.next_of("handover.requested");
  ASSERT_TRUE(reasons);
  EXPECT_TRUE(reasons->data["data"].contains("reasons"));
}

// A replay of more than the connection's queue holds (1 MiB) goes out a part at a time as the
// client reads: every stored event arrives once, in order, and the server stays up. It used
// to write the whole replay at once, overflow the queue, drop the client and then crash.
TEST_F(EventStreamTest, ReplaysAConversationLargerThanTheConnectionQueue) {
  const auto conv = create_conversation();
  const std::string filler(2900, 'x');
  constexpr int kTurns = 420;
  for (int i = 0; i < kTurns; ++i) {
    ASSERT_NO_FATAL_FAILURE(post_user(conv, "turn " + std::to_string(i) + " " + filler));
  }

  SseClient stream(port());
  ASSERT_EQ(stream.open(events_path(conv["id"]), token_header(conv)), 200);
  std::size_t bytes = 0;
  int seen = 0;
  long long last_id = 0;
  while (seen < kTurns) {
    auto event = stream.next(5000);
    ASSERT_TRUE(event) << "the stream ended after " << seen << " turns";
    if (event->event != "turn.created") continue;
    const std::string text = event->data["data"]["turn"]["text"];
    if (text.find(filler) == std::string::npos) continue;  // a system turn of the narrator
    EXPECT_EQ(text, "turn " + std::to_string(seen) + " " + filler);
    EXPECT_GT(std::stoll(event->id), last_id);
    last_id = std::stoll(event->id);
    bytes += text.size();
    ++seen;
  }
  EXPECT_GT(bytes, std::size_t{1} << 20);
  HttpClient client(port());
  EXPECT_EQ(client.request("GET", "/livez").status, 200);
}

// Live events that arrive while a long replay waits for a client that stopped reading are
// not piled up in memory past a few dozen: the replay reads them from the store once the
// client reads again. Every event still arrives once, in order.
TEST_F(EventStreamTest, LiveEventsDuringAPausedReplayArriveOnceAndInOrder) {
  const auto conv = create_conversation();
  const std::string filler(3900, 'y');
  constexpr int kStored = 1500;  // about 6 MB: more than the socket buffers hold
  constexpr int kLive = 150;     // more than the stream holds during a replay
  for (int i = 0; i < kStored; ++i) {
    ASSERT_NO_FATAL_FAILURE(post_user(conv, "turn " + std::to_string(i) + " " + filler));
  }

  SseClient stream(port());
  ASSERT_EQ(stream.open(events_path(conv["id"]), token_header(conv)), 200);
  ASSERT_TRUE(stream.next_of("turn.created"));
  for (int i = kStored; i < kStored + kLive; ++i) {
    ASSERT_NO_FATAL_FAILURE(post_user(conv, "turn " + std::to_string(i) + " " + filler));
  }
  int seen = 1;
  long long last_id = 0;
  while (seen < kStored + kLive) {
    auto event = stream.next(5000);
    ASSERT_TRUE(event) << "the stream ended after " << seen << " turns";
    if (event->event != "turn.created") continue;
    const std::string text = event->data["data"]["turn"]["text"];
    if (text.find(filler) == std::string::npos) continue;
    ASSERT_EQ(text, "turn " + std::to_string(seen) + " " + filler);
    EXPECT_GT(std::stoll(event->id), last_id);
    last_id = std::stoll(event->id);
    ++seen;
  }
}

TEST_F(EventStreamTest, RefusesBadCredentialsAndCursors) {
  const auto conv = create_conversation();
  const auto other = create_conversation();

  SseClient wrong(port());
  EXPECT_EQ(wrong.open(events_path(conv["id"]), token_header(other)), 403);
  EXPECT_NE(wrong.body().find("another conversation"), std::string::npos);

  SseClient none(port());
  EXPECT_EQ(none.open(events_path(conv["id"])), 401);

  SseClient forged(port());
  EXPECT_EQ(forged.open(events_path(conv["id"]) + "?access_token=" +
                        conv["id"].get<std::string>() + ".forged"),
            401);

  SseClient cursor(port());
  EXPECT_EQ(cursor.open(events_path(conv["id"]), token_header(conv) + "Last-Event-ID: x1\r\n"),
            422);
  EXPECT_NE(cursor.body().find("/headers/last-event-id"), std::string::npos);

  SseClient unknown(port());
  EXPECT_EQ(unknown.open(events_path(conv["id"]) + "?since=3", token_header(conv)), 422);

  SseClient missing(port());
  EXPECT_EQ(missing.open(events_path("c_nope"), ServerProcess::bearer(kReadKey)), 404);
}

}  // namespace
}  // namespace handover::testing
