// What the user is told, end to end: the system turns at each step of a handover in German
// and English, the queue place as the queue moves, the choices while waiting and the rating.
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "agents_fixture.hpp"
#include "support/sse_client.hpp"

namespace handover::testing {
namespace {

// Holds the database's write lock from outside the server: its reads go on, its writes wait
// (up to the store's busy timeout, five seconds).
class WriteLock {
 public:
  explicit WriteLock(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) return;
    sqlite3_busy_timeout(db_, 5000);
    held_ = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
  }
  ~WriteLock() {
    release();
    sqlite3_close(db_);
  }
  WriteLock(const WriteLock&) = delete;
  WriteLock& operator=(const WriteLock&) = delete;

  bool held() const { return held_; }
  void release() {
    if (held_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    held_ = false;
  }

 private:
  sqlite3* db_ = nullptr;
  bool held_ = false;
};

class MessagesTest : public AgentsFixture {
 protected:
  // Polls the turns until a system turn with metadata.message == `key` appears (10 s at most).
  json wait_for_message(const std::string& conversation, const std::string& key) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = call("GET", "/v1/conversations/" + conversation + "/turns?limit=100");
      EXPECT_EQ(r.status, 200) << r.body;
      for (const auto& turn : r.json().value("turns", json::array())) {
        if (turn["role"] == "system" && turn.contains("metadata") &&
            turn["metadata"].value("message", "") == key) {
          return turn;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "no system turn '" << key << "' in " << conversation;
    return json::object();
  }

  HttpResponse post_json(const std::string& conversation, const std::string& what,
                         const json& body) {
    return call("POST", "/v1/conversations/" + conversation + "/" + what, body.dump());
  }

  // How many events of `type` the conversation has, read from the database itself.
  int stored_events(const std::string& conversation, const std::string& type) {
    sqlite3* db = nullptr;
    int count = -1;
    if (sqlite3_open_v2(server_->db_path().c_str(), &db, SQLITE_OPEN_READONLY, nullptr) ==
        SQLITE_OK) {
      sqlite3_stmt* stmt = nullptr;
      sqlite3_prepare_v2(db,
                         "SELECT count(*) FROM events JOIN conversations ON conversation = pk "
                         "WHERE public_id = ? AND type = ?",
                         -1, &stmt, nullptr);
      sqlite3_bind_text(stmt, 1, conversation.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(stmt, 2, type.c_str(), -1, SQLITE_TRANSIENT);
      if (sqlite3_step(stmt) == SQLITE_ROW) count = sqlite3_column_int(stmt, 0);
      sqlite3_finalize(stmt);
    }
    sqlite3_close(db);
    return count;
  }
};

// The only queue is outside its business hours (it has none): routing keeps nothing.
class ClosedQueueTest : public MessagesTest {
 protected:
  void SetUp() override {
    ServerSettings settings;
    settings.routing_yaml =
        "queues:\n  - name: general\n    business_hours:\n      time_zone: UTC\n";
    server_ = std::make_unique<ServerProcess>(settings);
    ASSERT_TRUE(server_->start()) << server_->log();
  }
};

TEST_F(ClosedQueueTest, OutsideBusinessHoursTheUserIsNotToldOfAQueue) {
  const std::string conv = create_conversation("en");
  ASSERT_EQ(handover(conv, "general").status, 202);

  const json offline = wait_for_message(conv, "no_agent.offline");
  const json turns = call("GET", "/v1/conversations/" + conv + "/turns?limit=100").json()["turns"];

  EXPECT_FALSE(offline.empty());
  for (const auto& turn : turns) {
    if (!turn.contains("metadata") || !turn["metadata"].is_object()) continue;
    EXPECT_NE(turn["metadata"].value("message", ""), "handover.announce") << turn;
  }
  EXPECT_EQ(state_of(conv), "bot");
}

TEST_F(MessagesTest, TheUserReadsWhoJoinedBeforeTheAgentsFirstWords) {
  auto ana = agent({"ana"});
  const std::string conv = escalate("general", 0, "de");
  auto offer = ana->read_type("offer");
  ASSERT_TRUE(offer.has_value());
  // An agent client that greets the moment it is assigned.
  ana->send_json({{"type", "accept"},
                  {"conversation_id", conv},
                  {"offer_id", (*offer)["offer_id"]}});
  ASSERT_TRUE(ana->read_type("assigned").has_value());
  ana->send_json({{"type", "message"},
                  {"ref", "hi"},
                  {"conversation_id", conv},
                  {"text", "Hallo, ich bin Ana."}});
  auto ack = ana->read_type("ack");
  while (ack && (*ack).value("for", "") != "message") ack = ana->read_type("ack");
  ASSERT_TRUE(ack.has_value());

  const json turns = call("GET", "/v1/conversations/" + conv + "/turns?limit=100").json()["turns"];
  std::ptrdiff_t joined = -1;
  std::ptrdiff_t greeting = -1;
  for (std::size_t i = 0; i < turns.size(); ++i) {
    const json& turn = turns[i];
    if (turn["role"] == "agent") greeting = static_cast<std::ptrdiff_t>(i);
    if (turn["role"] == "system" && turn.contains("metadata") &&
        turn["metadata"].value("message", "") == "agent.joined") {
      joined = static_cast<std::ptrdiff_t>(i);
    }
  }
  ASSERT_GE(joined, 0) << turns;
  ASSERT_GE(greeting, 0) << turns;
  EXPECT_LT(joined, greeting) << turns;
}

TEST_F(MessagesTest, AGermanUserIsToldEveryStepAndMayRateTheHelp) {
  auto ana = agent({"ana"});
  const std::string conv = escalate("general", 0, "de");

  const json announce = wait_for_message(conv, "handover.announce");
  EXPECT_NE(announce.value("text", "").find("Ich hole jetzt Unterstützung"), std::string::npos)
      << announce;
  EXPECT_NE(announce.value("text", "").find("Position 1"), std::string::npos) << announce;
  auto offer = ana->read_type("offer");
  ASSERT_TRUE(offer.has_value());
  accept(*ana, *offer);
  const json joined = wait_for_message(conv, "agent.joined");
  EXPECT_EQ(joined.value("text", ""),
            "Agent ana ist jetzt für Sie da und hat den bisherigen Verlauf vor sich.");
  EXPECT_EQ(joined["metadata"]["agent"], "Agent ana");

  EXPECT_EQ(post_json(conv, "rating", {{"rating", 5}}).status, 409);  // nothing resolved yet
  ana->send_json(
      {{"type", "resolve"}, {"conversation_id", conv}, {"feedback", {{"justified", "yes"}}}});
  const json resolved = wait_for_message(conv, "handover.resolved");
  EXPECT_NE(resolved.value("text", "").find("von 1 bis 5"), std::string::npos) << resolved;
  EXPECT_EQ(resolved["metadata"]["rating"]["max"], 5);

  auto rated = post_json(conv, "rating", {{"rating", 4}, {"comment", "schnell und freundlich"}});
  ASSERT_EQ(rated.status, 201) << rated.body;
  EXPECT_EQ(rated.json()["rating"], 4);
  EXPECT_EQ(rated.json()["agent_id"], "ana");
  EXPECT_EQ(wait_for_message(conv, "rating.thanks").value("text", ""),
            "Vielen Dank für Ihre Bewertung!");
  EXPECT_EQ(post_json(conv, "rating", {{"rating", 3}}).status, 409);  // rated already
  // A client retrying the request it sent is told it was stored.
  auto retried = post_json(conv, "rating", {{"rating", 4}, {"comment", "schnell und freundlich"}});
  EXPECT_EQ(retried.status, 200) << retried.body;
  EXPECT_EQ(retried.json()["id"], rated.json()["id"]);
}

// The user rates with the conversation token; the answer names nobody by internal id.
TEST_F(MessagesTest, TheUsersRatingAnswerLeavesOutTheAgentsId) {
  auto ana = agent({"ana"});
  auto created = call("POST", "/v1/conversations", json{{"language", "en"}}.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string conv = created.json().value("id", "");
  const std::string token = created.json().value("token", "");
  ASSERT_EQ(handover(conv, "general").status, 202);
  auto offer = ana->read_type("offer");
  ASSERT_TRUE(offer.has_value());
  accept(*ana, *offer);
  ana->send_json(
      {{"type", "resolve"}, {"conversation_id", conv}, {"feedback", {{"justified", "yes"}}}});
  wait_for_message(conv, "handover.resolved");
  const std::string body = json{{"rating", 5}, {"comment", "quick"}}.dump();

  auto rated = call("POST", "/v1/conversations/" + conv + "/rating", body, token);
  auto retried = call("POST", "/v1/conversations/" + conv + "/rating", body, token);

  ASSERT_EQ(rated.status, 201) << rated.body;
  EXPECT_EQ(rated.json()["rating"], 5);
  EXPECT_FALSE(rated.json().contains("agent_id")) << rated.body;
  ASSERT_EQ(retried.status, 200) << retried.body;
  EXPECT_FALSE(retried.json().contains("agent_id")) << retried.body;
}

// With nobody online a wait would be invented: the announcement says it is not known.
TEST_F(MessagesTest, WithNobodyOnlineTheWaitIsNotKnown) {
  const std::string conv = escalate("general", 0, "en");
  const std::string text = wait_for_message(conv, "handover.announce").value("text", "");
  EXPECT_NE(text.find("estimated wait: not known yet"), std::string::npos) << text;
  EXPECT_EQ(text.find("less than a minute"), std::string::npos) << text;
  // Clients that show the place themselves are not given an invented estimate either.
  const json queue = call("GET", "/v1/conversations/" + conv).json()["queue"];
  EXPECT_EQ(queue["position"], 1) << queue;
  EXPECT_TRUE(queue["estimated_wait_s"].is_null()) << queue;
}

// Agents who are away get no offers: with only them the wait is not known either.
TEST_F(MessagesTest, WithEveryoneAwayTheWaitIsNotKnown) {
  auto ana = agent({"ana"});
  ana->send_json({{"type", "presence"}, {"status", "away"}, {"ref", "p"}});
  ASSERT_TRUE(ana->read_type("ack").has_value());
  const std::string conv = escalate("general", 0, "en");
  const std::string text = wait_for_message(conv, "handover.announce").value("text", "");
  EXPECT_NE(text.find("estimated wait: not known yet"), std::string::npos) << text;
}

TEST_F(MessagesTest, RacingRatingsStoreExactlyOne) {
  auto ana = agent({"ana"});
  const std::string conv = escalate("general", 0, "en");
  auto offer = ana->read_type("offer");
  ASSERT_TRUE(offer.has_value());
  accept(*ana, *offer);
  ana->send_json(
      {{"type", "resolve"}, {"conversation_id", conv}, {"feedback", {{"justified", "yes"}}}});
  wait_for_message(conv, "handover.resolved");

  std::vector<std::thread> raters;
  std::vector<int> statuses(10, 0);
  for (int i = 0; i < 10; ++i) {
    raters.emplace_back([&, i] {
      statuses[i] = post_json(conv, "rating", {{"rating", i % 5 + 1}}).status;
    });
  }
  for (auto& rater : raters) rater.join();

  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 201), 1);
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 201) +
                std::count(statuses.begin(), statuses.end(), 409) +
                std::count(statuses.begin(), statuses.end(), 200),
            10);
}

TEST_F(MessagesTest, AnEnglishUserIsToldAboutATransferAndTheReturnToTheBot) {
  auto ana = agent({"ana"});
  const std::string conv = escalate("general", 0, "en");
  EXPECT_NE(wait_for_message(conv, "handover.announce").value("text", "").find(
                "I'm getting a colleague to help you now."),
            std::string::npos);
  auto offer = ana->read_type("offer");
  ASSERT_TRUE(offer.has_value());
  accept(*ana, *offer);
  EXPECT_EQ(wait_for_message(conv, "agent.joined").value("text", ""),
            "Agent ana is here for you now and can see our conversation so far.");
  auto ben = agent({"ben"});

  ana->send_json({{"type", "transfer"}, {"conversation_id", conv}, {"agent", "ben"}});
  EXPECT_EQ(wait_for_message(conv, "handover.transferred").value("text", ""),
            "I'm connecting you with the right colleague. One moment, please.");
  auto to_ben = ben->read_type("offer");
  ASSERT_TRUE(to_ben.has_value());
  accept(*ben, *to_ben);
  ben->send_json({{"type", "return_to_bot"}, {"conversation_id", conv}, {"note", "done"}});
  EXPECT_EQ(wait_for_message(conv, "handover.returned").value("text", ""),
            "You are now talking to the digital assistant again.");
  EXPECT_EQ(state_of(conv), "bot");
}

TEST_F(MessagesTest, TheQueuePlaceMovesUpWhenTheConversationAheadIsTaken) {
  const std::string first = escalate();
  const std::string second = escalate();
  auto view = call("GET", "/v1/conversations/" + second).json();
  ASSERT_TRUE(view.contains("queue")) << view;
  EXPECT_EQ(view["queue"]["position"], 2);
  EXPECT_EQ(view["queue"]["name"], "general");
  EXPECT_NE(wait_for_message(second, "handover.announce").value("text", "").find("Position 2"),
            std::string::npos);

  SseClient stream(server_->port());
  ASSERT_EQ(stream.open("/v1/conversations/" + second + "/events", ServerProcess::bearer(kReadKey)),
            200);
  auto at_start = stream.next_of("queue.position");
  ASSERT_TRUE(at_start.has_value());
  EXPECT_EQ(at_start->data["data"]["position"], 2);
  EXPECT_TRUE(at_start->id.empty());  // not stored, so no resume id

  auto ana = agent({"ana"});
  auto offer = ana->read_type("offer");
  ASSERT_TRUE(offer.has_value());
  EXPECT_EQ((*offer)["conversation_id"], first);
  accept(*ana, *offer);
  std::optional<SseEvent> moved;
  while ((moved = stream.next_of("queue.position")) && moved->data["data"]["position"] != 1) {
  }
  ASSERT_TRUE(moved.has_value()) << "no position 1 for the second conversation";
  EXPECT_GE(moved->data["data"]["estimated_wait_s"].get<int>(), 0);
}

TEST_F(MessagesTest, WithNobodyOnlineTheUserChoosesToWaitOrGoBackToTheBot) {
  const std::string conv = escalate("general", 0, "de");
  const json none = wait_for_message(conv, "no_agent.online_none");
  EXPECT_EQ(none["metadata"]["choices"],
            json::array({"keep_waiting", "leave_contact", "back_to_bot"}));

  EXPECT_EQ(post_json(conv, "choice", {{"choice", "later"}}).status, 422);
  auto wait = post_json(conv, "choice", {{"choice", "keep_waiting"}});
  ASSERT_EQ(wait.status, 200) << wait.body;
  EXPECT_EQ(wait.json()["state"], "queued");
  auto back = post_json(conv, "choice", {{"choice", "back_to_bot"}});
  ASSERT_EQ(back.status, 200) << back.body;
  EXPECT_EQ(back.json()["state"], "bot");
  EXPECT_EQ(wait_for_message(conv, "handover.cancelled").value("text", ""),
            "In Ordnung, Sie sprechen wieder mit dem digitalen Assistenten.");
  EXPECT_EQ(state_of(conv), "bot");
  EXPECT_EQ(post_json(conv, "choice", {{"choice", "back_to_bot"}}).status, 409);
}

TEST_F(MessagesTest, AChoiceNotOfferedIsRefused) {
  const std::string fresh = create_conversation("en");
  auto ana = agent({"ana"});
  const std::string conv = escalate("general", 0, "en");
  auto offer = ana->read_type("offer");
  ASSERT_TRUE(offer.has_value());
  const json contact = {{"choice", "leave_contact"}, {"contact", {{"email", "max@example.com"}}}};

  // Offered to an agent who is online: the user is told no choices.
  auto wait = post_json(conv, "choice", {{"choice", "keep_waiting"}});
  auto back = post_json(conv, "choice", {{"choice", "back_to_bot"}});
  auto left = post_json(conv, "choice", contact);
  auto never_handed_over = post_json(fresh, "choice", contact);

  EXPECT_EQ(wait.status, 409) << wait.body;
  EXPECT_EQ(wait.header("content-type"), "application/problem+json");
  EXPECT_EQ(wait.json().value("type", ""), "/problems/conversation-state") << wait.body;
  EXPECT_EQ(back.status, 409) << back.body;
  EXPECT_EQ(left.status, 409) << left.body;
  EXPECT_EQ(never_handed_over.status, 409) << never_handed_over.body;
  EXPECT_EQ(state_of(conv), "queued");

  // Once she declines, nobody can take it and the user is asked.
  ana->send_json({{"type", "decline"},
                  {"conversation_id", conv},
                  {"offer_id", (*offer)["offer_id"]},
                  {"reason", "busy"}});
  wait_for_message(conv, "no_agent.none_eligible");
  EXPECT_EQ(post_json(conv, "choice", {{"choice", "keep_waiting"}}).status, 200);
}

// A queue nobody works holds the conversation (and its erasure) until the team ends the wait.
TEST_F(MessagesTest, AnAdminEndsAWaitWithItsOfferAndTheUserIsToldTheBotCarriesOn) {
  auto ana = agent({"ana"});
  const std::string conv = escalate("general", 0, "en");
  auto offer = ana->read_type("offer");
  ASSERT_TRUE(offer.has_value());
  const std::string target = "/v1/admin/conversations/" + conv + "/end-wait";

  auto by_bot = call("POST", target, {}, kBotKey);
  auto ended = call("POST", target, {}, kAdminKey);
  auto revoked = ana->read_type("offer_revoked");
  auto again = call("POST", target, {}, kAdminKey);
  auto unknown = call("POST", "/v1/admin/conversations/c_unknown/end-wait", {}, kAdminKey);

  EXPECT_EQ(by_bot.status, 403);
  ASSERT_EQ(ended.status, 200) << ended.body;
  EXPECT_EQ(ended.json(), json({{"conversation_id", conv}, {"state", "bot"}}));
  ASSERT_TRUE(revoked.has_value());
  EXPECT_EQ((*revoked)["offer_id"], (*offer)["offer_id"]);
  EXPECT_EQ((*revoked)["reason"], "cancelled");
  EXPECT_EQ(state_of(conv), "bot");
  EXPECT_EQ(wait_for_message(conv, "no_agent.stay_with_bot").value("text", ""),
            "Nobody is available right now. The digital assistant will keep helping you as well "
            "as it can.");
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(again.header("content-type"), "application/problem+json");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.header("content-type"), "application/problem+json");
  // The analytics count it apart from users who left the queue.
  auto figures = call("GET", "/v1/analytics/handovers", {}, kAdminKey);
  ASSERT_EQ(figures.status, 200) << figures.body;
  EXPECT_EQ(figures.json()["outcomes"]["ended_by_admin"], 1) << figures.body;
  EXPECT_EQ(figures.json()["outcomes"]["abandoned"], 0) << figures.body;
}

TEST_F(MessagesTest, WhenTheOnlyAgentOnlineDeclinesTheUserIsToldNoneCanTakeItNow) {
  auto ana = agent({"ana"});
  const std::string conv = escalate("general", 0, "en");
  auto offer = ana->read_type("offer");
  ASSERT_TRUE(offer.has_value());

  ana->send_json({{"type", "decline"},
                  {"conversation_id", conv},
                  {"offer_id", (*offer)["offer_id"]},
                  {"reason", "busy"}});
  const json none = wait_for_message(conv, "no_agent.none_eligible");
  const json read = call("GET", "/v1/conversations/" + conv).json();

  EXPECT_EQ(none.value("text", ""),
            "The colleagues who are online cannot take your request at the moment. You can "
            "wait, leave your contact details or carry on with the assistant.");
  EXPECT_EQ(none["metadata"]["choices"],
            json::array({"keep_waiting", "leave_contact", "back_to_bot"}));
  EXPECT_TRUE(read["queue"]["estimated_wait_s"].is_null()) << read;
}

TEST_F(MessagesTest, PastTheQueuesWaitLimitTheUserIsOfferedTheChoices) {
  const std::string conv = escalate("limited", 0, "en");
  const json limit = wait_for_message(conv, "wait_limit");
  EXPECT_EQ(limit.value("text", ""),
            "Sorry, this is taking longer than expected. Would you like to keep waiting, leave "
            "your contact details or carry on with the assistant?");
  EXPECT_EQ(limit["metadata"]["choices"],
            json::array({"keep_waiting", "leave_contact", "back_to_bot"}));
  EXPECT_EQ(state_of(conv), "queued");
}

TEST_F(MessagesTest, LeavingContactDetailsEndsTheWaitWithThanks) {
  const std::string conv = escalate("general", 0, "en");
  wait_for_message(conv, "no_agent.online_none");
  EXPECT_EQ(post_json(conv, "choice", {{"choice", "leave_contact"}}).status, 422);
  EXPECT_EQ(post_json(conv, "choice", {{"choice", "leave_contact"}, {"contact", {{"name", "M"}}}})
                .status,
            422);
  EXPECT_EQ(post_json(conv, "choice", {{"choice", "back_to_bot"}, {"contact", json::object()}})
                .status,
            422);
  auto contact = post_json(
      conv, "choice", {{"choice", "leave_contact"}, {"contact", {{"email", "max@example.com"}}}});
  ASSERT_EQ(contact.status, 200) << contact.body;
  EXPECT_EQ(contact.json()["state"], "bot");
  EXPECT_EQ(
      wait_for_message(conv, "contact.thanks").value("text", ""),
      "Thank you! We will get back to you at the contact details you gave as soon as we can.");
  // The team can call back: the details are kept as given, with the conversation.
  SseClient stream(server_->port());
  ASSERT_EQ(stream.open("/v1/conversations/" + conv + "/events", ServerProcess::bearer(kReadKey)),
            200);
  auto choice = stream.next_of("handover.choice");
  ASSERT_TRUE(choice.has_value());
  EXPECT_EQ(choice->data["data"]["contact"]["email"], "max@example.com");
}

TEST_F(MessagesTest, ContactDetailsSentTwiceAtOnceAreRecordedOnce) {
  const std::string conv = escalate("general", 0, "en");
  wait_for_message(conv, "no_agent.online_none");
  const json contact = {{"choice", "leave_contact"}, {"contact", {{"email", "max@example.com"}}}};
  WriteLock lock(server_->db_path());
  ASSERT_TRUE(lock.held());

  // Neither choice can be stored while the lock is held, so both requests read the choices
  // offered before either is recorded: only a guard between them can refuse one. The one
  // refused is answered at once; without a guard neither is until the lock goes.
  auto first = std::async(std::launch::async, [&] { return post_json(conv, "choice", contact); });
  auto second = std::async(std::launch::async, [&] { return post_json(conv, "choice", contact); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < deadline &&
         first.wait_for(std::chrono::milliseconds(10)) != std::future_status::ready &&
         second.wait_for(std::chrono::milliseconds(10)) != std::future_status::ready) {
  }
  lock.release();
  std::vector<HttpResponse> answers = {first.get(), second.get()};
  std::sort(answers.begin(), answers.end(),
            [](const HttpResponse& a, const HttpResponse& b) { return a.status < b.status; });

  EXPECT_EQ(answers[0].status, 200) << answers[0].body;
  EXPECT_EQ(answers[1].status, 409) << answers[1].body;
  EXPECT_EQ(answers[1].json().value("type", ""), "/problems/conversation-state");
  EXPECT_EQ(stored_events(conv, "handover.choice"), 1);
  EXPECT_EQ(state_of(conv), "bot");
}

// The user leaves contact details while an admin ends the wait: whichever ends it first, the
// details are stored and the user is not told that leaving them failed.
TEST_F(MessagesTest, ContactDetailsLeftWhileAnAdminEndsTheWaitAreKept) {
  const std::string conv = escalate("general", 0, "en");
  wait_for_message(conv, "no_agent.online_none");
  const json contact = {{"choice", "leave_contact"}, {"contact", {{"email", "max@example.com"}}}};
  WriteLock lock(server_->db_path());
  ASSERT_TRUE(lock.held());

  // Both read what they need before either can write: the choice sees it was offered, the
  // admin's request sees a waiting conversation. Which write goes first is up to the server.
  auto left = std::async(std::launch::async, [&] { return post_json(conv, "choice", contact); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto ended = std::async(std::launch::async, [&] {
    return call("POST", "/v1/admin/conversations/" + conv + "/end-wait", {}, kAdminKey);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  lock.release();
  const HttpResponse choice = left.get();
  const HttpResponse admin = ended.get();

  ASSERT_EQ(choice.status, 200) << choice.body;
  EXPECT_EQ(choice.json()["choice"], "leave_contact");
  EXPECT_EQ(choice.json()["state"], "bot");
  EXPECT_EQ(stored_events(conv, "handover.choice"), 1);
  // The admin's request either ended the wait or found it ended by the user's choice.
  EXPECT_TRUE(admin.status == 200 || admin.status == 409) << admin.body;
  EXPECT_EQ(state_of(conv), "bot");
}

TEST_F(MessagesTest, RatingsAreValidated) {
  const std::string conv = create_conversation();
  EXPECT_EQ(post_json(conv, "rating", {{"rating", 6}}).status, 422);
  EXPECT_EQ(post_json(conv, "rating", {{"rating", 2.5}}).status, 422);
  EXPECT_EQ(post_json(conv, "rating", {{"stars", 2}}).status, 422);
  EXPECT_EQ(post_json(conv, "rating", {{"rating", 2}}).status, 409);
}

}  // namespace
}  // namespace handover::testing
