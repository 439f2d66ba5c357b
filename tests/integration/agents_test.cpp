// Agent routing end to end: the real server binary, agents on real WebSockets over loopback,
// conversations and handovers over REST. Each test runs its own server (queues in
// kTestRoutingYaml: offer timeouts of 5 s, a broadcast queue, a slow queue).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agents_fixture.hpp"

namespace handover::testing {
namespace {

using AgentsTest = AgentsFixture;

TEST_F(AgentsTest, OfferThenAcceptAssignsTheConversation) {
  auto ana = agent({"ana"});
  const std::string conv = escalate();

  auto offer = ana->read_type("offer");
  ASSERT_TRUE(offer.has_value());
  EXPECT_EQ((*offer)["conversation_id"], conv);
  EXPECT_EQ((*offer)["queue"], "general");
  EXPECT_EQ((*offer)["snapshot"]["conversation"]["id"], conv);
  EXPECT_GT((*offer)["seq"].get<std::int64_t>(), 0);
  EXPECT_EQ(state_of(conv), "queued");
  const json assigned = accept(*ana, *offer);

  EXPECT_EQ(assigned["conversation_id"], conv);
  EXPECT_GT(assigned["seq"], (*offer)["seq"]);
  EXPECT_EQ(state_of(conv), "agent");
}

TEST_F(AgentsTest, AnEscalatingTurnIsOfferedWithItselfInTheSnapshot) {
  auto ana = agent({"ana"});
  const std::string conv = create_conversation("en");
  ASSERT_EQ(post_turn(conv, "user", "Where is my parcel?").status, 201);

  auto posted = post_turn(conv, "user", "I want to talk to a human agent");

  ASSERT_EQ(posted.status, 201) << posted.body;
  EXPECT_EQ(posted.json()["state"], "queued");
  EXPECT_EQ(posted.json()["decision"]["action"], "escalate");
  auto offer = ana->read_type("offer");
  ASSERT_TRUE(offer.has_value());
  const json& snapshot = (*offer)["snapshot"];
  EXPECT_EQ(snapshot["trigger"]["turn_seq"], 2);
  EXPECT_EQ(snapshot["conversation"]["last_seq"], 2);
  ASSERT_EQ(snapshot["history"].size(), 2u);
  EXPECT_EQ(snapshot["history"][1]["text"], "I want to talk to a human agent");
  EXPECT_EQ(state_of(conv), "queued");
  const json assigned = accept(*ana, *offer);
  EXPECT_EQ(assigned["conversation_id"], conv);
}

TEST_F(AgentsTest, TheAgentWhoServedTheCustomerBeforeIsPreferred) {
  auto ana = agent({"ana"});
  auto ben = agent({"ben"});
  const std::string first = create_conversation("de", "cust-1");
  ASSERT_EQ(handover(first, "general").status, 202);
  auto to_ana = ana->read_type("offer");
  ASSERT_TRUE(to_ana.has_value());
  ana->send_json({{"type", "decline"},
                  {"conversation_id", first},
                  {"offer_id", (*to_ana)["offer_id"]},
                  {"reason", "busy"}});
  auto to_ben = ben->read_type("offer");
  ASSERT_TRUE(to_ben.has_value());
  accept(*ben, *to_ben);
  ben->send_json(
      {{"type", "resolve"}, {"conversation_id", first}, {"feedback", {{"justified", "yes"}}}});
  ASSERT_TRUE(ben->read_type("unassigned").has_value());

  // Ana has been idle longest, but Ben served this customer.
  const std::string second = create_conversation("de", "cust-1");
  ASSERT_EQ(handover(second, "general").status, 202);
  auto sticky = ben->read_type("offer");

  ASSERT_TRUE(sticky.has_value());
  EXPECT_EQ((*sticky)["conversation_id"], second);
}

TEST_F(AgentsTest, OverflowMovesAWaitingConversationToTheNextQueue) {
  auto ana = agent({"ana"});  // no "vip" skill
  const std::string conv = escalate("vip");

  auto offer = ana->read_type("offer", 4000);

  ASSERT_TRUE(offer.has_value());
  EXPECT_EQ((*offer)["conversation_id"], conv);
  EXPECT_EQ((*offer)["queue"], "general");
}

TEST_F(AgentsTest, AnAgentMayClaimAWaitingConversationOfASelfPickQueue) {
  auto ana = agent({"ana"});
  auto ben = agent({"ben"});
  const std::string conv = escalate("general");
  auto offer = ana->read_type("offer");
  ASSERT_TRUE(offer.has_value());

  ben->send_json({{"type", "claim"}, {"ref", "c"}, {"conversation_id", conv}});
  auto assigned = ben->read_type("assigned");
  auto revoked = ana->read_type("offer_revoked");

  ASSERT_TRUE(assigned.has_value());
  EXPECT_EQ((*assigned)["conversation_id"], conv);
  ASSERT_TRUE(revoked.has_value());
  EXPECT_EQ((*revoked)["reason"], "claimed");
}

TEST_F(AgentsTest, BotTurnIsRefusedWhileAPersonHasTheConversation) {
  auto ana = agent({"ana"});
  const std::string conv = escalate();
  auto offer = ana->read_type("offer");
  ASSERT_TRUE(offer.has_value());
  accept(*ana, *offer);

  auto bot = post_turn(conv, "bot", "I can still help!");
  auto user = post_turn(conv, "user", "Hello?");

  EXPECT_EQ(bot.status, 409) << bot.body;
  EXPECT_EQ(bot.json()["type"], "/problems/conversation-with-agent");
  EXPECT_EQ(user.status, 201) << user.body;
}

TEST_F(AgentsTest, UserTurnsReachTheAgentAndAgentMessagesBecomeTurns) {
  auto ana = agent({"ana"});
  const std::string conv = escalate();
  auto offer = ana->read_type("offer");
  ASSERT_TRUE(offer.has_value());
  accept(*ana, *offer);

  ASSERT_EQ(post_turn(conv, "user", "Mein Paket fehlt").status, 201);
  auto relayed = read_customer_turn(*ana);
  ana->send_json({{"type", "message"},
                  {"ref", 7},
                  {"conversation_id", conv},
                  {"text", "Ich sehe nach."},
                  {"id", "m-1"}});
  auto ack = ana->read_type("ack");
  auto turns = turns_without_system(conv);

  ASSERT_TRUE(relayed.has_value());
  EXPECT_EQ((*relayed)["turn"]["text"], "Mein Paket fehlt");
  EXPECT_EQ((*relayed)["turn"]["role"], "user");
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ((*ack)["ref"], 7);
  EXPECT_EQ((*ack)["turn"]["role"], "agent");
  ASSERT_EQ(turns.size(), 2u);
  EXPECT_EQ(turns[1]["role"], "agent");
  EXPECT_EQ(turns[1]["text"], "Ich sehe nach.");
  EXPECT_GT(turns[1]["seq"], turns[0]["seq"]);
}

TEST_F(AgentsTest, MessageFromAnAgentWithoutTheConversationIsRefused) {
  auto ana = agent({"ana"});
  const std::string conv = escalate();
  ASSERT_TRUE(ana->read_type("offer").has_value());

  ana->send_json({{"type", "message"}, {"conversation_id", conv}, {"text", "hi"}});
  auto error = ana->read_type("error");

  ASSERT_TRUE(error.has_value());
  EXPECT_EQ((*error)["code"], "not_assigned");
}

TEST_F(AgentsTest, DeclineOffersTheConversationToTheNextAgent) {
  auto ana = agent({"ana"});
  auto ben = agent({"ben"});
  const std::string conv = escalate();
  // Ana arrived first, so she has been idle longest and is asked first.
  auto first = ana->read_type("offer");
  ASSERT_TRUE(first.has_value());

  ana->send_json({{"type", "decline"},
                  {"conversation_id", conv},
                  {"offer_id", (*first)["offer_id"]},
                  {"reason", "busy"}});
  auto second = ben->read_type("offer");

  ASSERT_TRUE(second.has_value());
  EXPECT_EQ((*second)["conversation_id"], conv);
  EXPECT_TRUE(ana->read_type("ack").has_value());
}

TEST_F(AgentsTest, TimeoutOffersTheNextAgentAndALateAcceptIsRefused) {
  auto ana = agent({"ana"});
  auto ben = agent({"ben"});
  const std::string conv = escalate();
  auto first = ana->read_type("offer");
  ASSERT_TRUE(first.has_value());

  auto revoked = ana->read_type("offer_revoked", 8000);
  auto second = ben->read_type("offer", 2000);
  ana->send_json({{"type", "accept"},
                  {"ref", "late"},
                  {"conversation_id", conv},
                  {"offer_id", (*first)["offer_id"]}});
  auto refusal = ana->read_type("error");

  ASSERT_TRUE(revoked.has_value());
  EXPECT_EQ((*revoked)["reason"], "expired");
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ((*second)["conversation_id"], conv);
  ASSERT_TRUE(refusal.has_value());
  EXPECT_EQ((*refusal)["code"], "offer_expired");
  EXPECT_EQ((*refusal)["ref"], "late");
}

TEST_F(AgentsTest, WithoutAnAgentTheConversationWaitsUntilOneArrives) {
  const std::string conv = escalate();
  auto queues = call("GET", "/v1/queues", {}, kReadKey).json()["queues"];

  auto ana = agent({"ana"});
  auto offer = ana->read_type("offer");

  const auto general = std::find_if(queues.begin(), queues.end(),
                                    [](const json& q) { return q["name"] == "general"; });
  ASSERT_NE(general, queues.end());
  EXPECT_EQ((*general)["waiting"], 1);
  // Nobody was accepted from it yet: no average to tell.
  EXPECT_TRUE((*general)["average_wait_s"].is_null()) << *general;
  ASSERT_TRUE(offer.has_value());
  EXPECT_EQ((*offer)["conversation_id"], conv);
}

TEST_F(AgentsTest, TheAgentGetsWhatTheUserWroteWhileWaitingRightAfterTheAssignment) {
  const std::string conv = create_conversation();
  ASSERT_EQ(post_turn(conv, "user", "Mein Paket fehlt").status, 201);
  ASSERT_EQ(handover(conv, "general").status, 202);
  ASSERT_EQ(post_turn(conv, "user", "Hallo? Schreiben Sie an max@example.com").status, 201);
  ASSERT_EQ(post_turn(conv, "user", "Bestellung 4711").status, 201);

  auto ana = agent({"ana"});
  auto offer = ana->read_type("offer");
  ASSERT_TRUE(offer.has_value());
  ana->send_json({{"type", "accept"},
                  {"conversation_id", conv},
                  {"offer_id", (*offer)["offer_id"]}});
  // They come between `assigned` and the ack of the accept.
  bool assigned = false;
  std::vector<json> caught_up;
  for (auto frame = ana->read(); frame; frame = ana->read()) {
    const std::string type = frame->value("type", "");
    if (type == "ack" && frame->value("for", "") == "accept") break;
    if (type == "assigned") assigned = true;
    if (type == "turn" && (*frame)["turn"]["role"] == "user") {
      EXPECT_TRUE(assigned) << "a turn before the assignment";
      caught_up.push_back(*frame);
    }
  }
  ASSERT_EQ(caught_up.size(), 2u);

  const json& history = (*offer)["snapshot"]["history"];
  ASSERT_EQ(history.size(), 1u) << "the snapshot ends at the escalation";
  EXPECT_EQ(history[0]["text"], "Mein Paket fehlt");
  EXPECT_EQ(caught_up[0]["turn"]["text"], "Hallo? Schreiben Sie an [email]");
  EXPECT_EQ(caught_up[1]["turn"]["text"], "Bestellung 4711");
  for (const auto& frame : caught_up) EXPECT_EQ(frame["catch_up"], true);
  EXPECT_LT(caught_up[0]["turn"]["seq"], caught_up[1]["turn"]["seq"]);
}

TEST_F(AgentsTest, CapacityIsNeverExceededWhenTwentyEscalateAtOnce) {
  auto ana = agent({"ana", {}, {}, 1});
  std::vector<std::string> conversations(20);
  for (auto& id : conversations) id = create_conversation();
  std::vector<std::thread> threads;
  std::atomic<int> accepted{0};
  for (const auto& id : conversations) {
    threads.emplace_back([&, id] {
      if (handover(id, "general").status == 202) ++accepted;
    });
  }
  for (auto& t : threads) t.join();

  const auto offers_in = [](const std::deque<json>& frames) {
    return std::count_if(frames.begin(), frames.end(),
                         [](const json& f) { return f.value("type", "") == "offer"; });
  };
  auto before = ana->drain(500);
  const auto offer = std::find_if(before.begin(), before.end(),
                                  [](const json& f) { return f.value("type", "") == "offer"; });
  ASSERT_NE(offer, before.end());
  accept(*ana, *offer);
  auto later = ana->drain(1000);
  auto agents = call("GET", "/v1/agents", {}, kAdminKey).json()["agents"];
  auto queues = call("GET", "/v1/queues", {}, kAdminKey).json()["queues"];

  EXPECT_EQ(accepted, 20);
  EXPECT_EQ(offers_in(before), 1);
  EXPECT_EQ(offers_in(later), 0);
  EXPECT_EQ(queues[0]["waiting"], 19);
  ASSERT_EQ(agents.size(), 1u);
  EXPECT_EQ(agents[0]["load"], 1);
  EXPECT_EQ(agents[0]["open_offers"], 0);
}

TEST_F(AgentsTest, ResolvingFreesTheSlotForTheNextWaitingConversation) {
  auto ana = agent({"ana", {}, {}, 1});
  const std::string first = escalate();
  const std::string second = escalate();
  auto offer = ana->read_type("offer");
  ASSERT_TRUE(offer.has_value());
  accept(*ana, *offer);

  ana->send_json(
      {{"type", "resolve"},
       {"ref", "r"},
       {"conversation_id", first},
       {"feedback",
        {{"justified", "too_late"}, {"reason", "refund"}, {"note", "should have come earlier"}}}});
  auto unassigned = ana->read_type("unassigned");
  auto next = ana->read_type("offer");

  EXPECT_EQ((*offer)["conversation_id"], first);
  ASSERT_TRUE(unassigned.has_value());
  EXPECT_EQ((*unassigned)["reason"], "resolved");
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ((*next)["conversation_id"], second);
  EXPECT_EQ(state_of(first), "bot");
}

TEST_F(AgentsTest, SkillsAndLanguageDecideWhoIsOffered) {
  auto billing = agent({"bill", {"billing"}, {"en"}});
  auto support = agent({"sue", {"support"}, {"de"}});

  const std::string de = escalate("support_de");
  const std::string en = escalate("billing_en", 0, "en");
  auto to_sue = support->read_type("offer");
  auto to_bill = billing->read_type("offer");

  ASSERT_TRUE(to_sue.has_value());
  EXPECT_EQ((*to_sue)["conversation_id"], de);
  ASSERT_TRUE(to_bill.has_value());
  EXPECT_EQ((*to_bill)["conversation_id"], en);
}

TEST_F(AgentsTest, HigherPriorityIsServedFirst) {
  const std::string low = escalate("general", 0);
  const std::string high = escalate("general", 50);

  auto ana = agent({"ana"});
  auto offer = ana->read_type("offer");

  ASSERT_TRUE(offer.has_value());
  EXPECT_EQ((*offer)["conversation_id"], high);
  EXPECT_NE(low, high);
}

TEST_F(AgentsTest, TransferToAQueueReachesAnAgentOfThatQueue) {
  auto ana = agent({"ana"});
  auto bill = agent({"bill", {"billing"}, {"en"}});
  const std::string conv = escalate();
  auto offer = ana->read_type("offer");
  ASSERT_TRUE(offer.has_value());
  accept(*ana, *offer);

  ana->send_json({{"type", "transfer"},
                  {"ref", "t"},
                  {"conversation_id", conv},
                  {"queue", "billing_en"},
                  {"note", "invoice question"}});
  auto unassigned = ana->read_type("unassigned");
  auto to_bill = bill->read_type("offer");

  ASSERT_TRUE(unassigned.has_value());
  EXPECT_EQ((*unassigned)["reason"], "transferred");
  ASSERT_TRUE(to_bill.has_value());
  EXPECT_EQ((*to_bill)["conversation_id"], conv);
  EXPECT_EQ((*to_bill)["queue"], "billing_en");
  // The next agent reads why the conversation was handed on.
  EXPECT_EQ((*to_bill)["transfer"]["from_agent"], "ana");
  EXPECT_EQ((*to_bill)["transfer"]["note"], "invoice question");
  EXPECT_FALSE(offer->contains("transfer"));
}

TEST_F(AgentsTest, TransferToANamedAgent) {
  auto ana = agent({"ana"});
  auto ben = agent({"ben"});
  const std::string conv = escalate();
  auto offer = ana->read_type("offer");
  ASSERT_TRUE(offer.has_value());
  accept(*ana, *offer);

  ana->send_json({{"type", "transfer"},
                  {"conversation_id", conv},
                  {"agent", "ben"},
                  {"note", "you know this customer"}});
  auto to_ben = ben->read_type("offer");

  ASSERT_TRUE(to_ben.has_value());
  EXPECT_EQ((*to_ben)["conversation_id"], conv);
  EXPECT_EQ((*to_ben)["transfer"]["note"], "you know this customer");
}

TEST_F(AgentsTest, ReturnToBotUnmutesTheBot) {
  auto ana = agent({"ana"});
  const std::string conv = escalate();
  auto offer = ana->read_type("offer");
  ASSERT_TRUE(offer.has_value());
  accept(*ana, *offer);

  ana->send_json({{"type", "return_to_bot"},
                  {"ref", "rb"},
                  {"conversation_id", conv},
                  {"note", "only needed the opening hours"}});
  auto unassigned = ana->read_type("unassigned");
  auto ack = ana->read_type("ack");

  ASSERT_TRUE(unassigned.has_value());
  EXPECT_EQ((*unassigned)["reason"], "returned");
  EXPECT_EQ((*unassigned)["note"], "only needed the opening hours");
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(state_of(conv), "bot");
  EXPECT_EQ(post_turn(conv, "bot", "Back with the bot").status, 201);
}

TEST_F(AgentsTest, SimultaneousAcceptsHaveExactlyOneWinner) {
  std::vector<std::unique_ptr<WsClient>> agents;
  for (const char* id : {"a1", "a2", "a3"}) agents.push_back(agent({id}));
  for (int round = 0; round < 10; ++round) {
    SCOPED_TRACE(round);
    const std::string conv = escalate("urgent");
    std::vector<json> offers;
    for (auto& a : agents) {
      auto offer = a->read_type("offer");
      ASSERT_TRUE(offer.has_value());
      offers.push_back(*offer);
    }

    std::vector<std::thread> threads;
    std::vector<std::string> outcomes(agents.size());
    for (std::size_t i = 0; i < agents.size(); ++i) {
      threads.emplace_back([&, i] {
        agents[i]->send_json({{"type", "accept"},
                              {"ref", "race"},
                              {"conversation_id", conv},
                              {"offer_id", offers[i]["offer_id"]}});
        for (int n = 0; n < 10; ++n) {
          auto frame = agents[i]->read();
          if (!frame) break;
          const std::string type = frame->value("type", "");
          if (type == "ack" || type == "error") {
            outcomes[i] = type;
            break;
          }
        }
      });
    }
    for (auto& t : threads) t.join();

    EXPECT_EQ(std::count(outcomes.begin(), outcomes.end(), "ack"), 1);
    EXPECT_EQ(std::count(outcomes.begin(), outcomes.end(), "error"), 2);
    for (std::size_t i = 0; i < agents.size(); ++i) {
      if (outcomes[i] != "ack") continue;
      agents[i]->send_json(
          {{"type", "resolve"}, {"conversation_id", conv}, {"feedback", {{"justified", "yes"}}}});
      ASSERT_TRUE(agents[i]->read_type("ack").has_value());
    }
    for (auto& a : agents) a->drain(50);
  }
}

TEST_F(AgentsTest, ReconnectWithResumeGetsEverythingMissedOnce) {
  const std::string token = create_agent({"ana"});
  auto ana = connect(token);
  const std::string conv = escalate();
  auto offer = ana->read_type("offer");
  ASSERT_TRUE(offer.has_value());
  const json assigned = accept(*ana, *offer);
  ASSERT_TRUE(assigned.contains("seq"));
  const std::int64_t last = assigned["seq"];
  ana->drop();

  for (int i = 1; i <= 5; ++i) {
    ASSERT_EQ(post_turn(conv, "user", "m" + std::to_string(i)).status, 201);
  }
  auto back = connect(token, last);
  ASSERT_EQ(post_turn(conv, "user", "m6").status, 201);
  std::vector<json> turns;
  for (int i = 0; i < 6; ++i) {
    auto turn = read_customer_turn(*back);
    if (!turn) break;
    turns.push_back(*turn);
  }
  auto extra = back->drain(300);
  std::erase_if(extra, [](const json& f) {
    return f.value("turn", json::object()).value("role", "") == "system";
  });

  ASSERT_EQ(turns.size(), 6u);
  for (std::size_t i = 0; i < turns.size(); ++i) {
    EXPECT_EQ(turns[i]["turn"]["text"], "m" + std::to_string(i + 1));
    if (i > 0) {
      EXPECT_GT(turns[i]["seq"], turns[i - 1]["seq"]);
    }
  }
  EXPECT_GT(turns[0]["seq"].get<std::int64_t>(), last);
  EXPECT_EQ(std::count_if(extra.begin(), extra.end(),
                          [](const json& f) { return f.value("type", "") == "turn"; }),
            0);
}

// A send queue of 150 frames, and a resume that missed more than twice that: sent at once,
// the replay overflowed the queue and the connection was closed before the client read it.
class AgentReplayTest : public AgentsFixture {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServerProcess>(
        ServerSettings::with({"HANDOVER_WEBSOCKET_MAX_QUEUED_MESSAGES=150"}, {}));
    ASSERT_TRUE(server_->start()) << server_->log();
  }
};

TEST_F(AgentReplayTest, AResumeLongerThanTheSendQueueArrivesWholeAndInOrder) {
  constexpr int kMissed = 420;
  const std::string token = create_agent({"ana"});
  auto ana = connect(token);
  const std::string conv = escalate();
  auto offer = ana->read_type("offer");
  ASSERT_TRUE(offer.has_value());
  const std::int64_t last = accept(*ana, *offer)["seq"];
  ana->drop();
  for (int i = 1; i <= kMissed; ++i) {
    ASSERT_EQ(post_turn(conv, "user", "m" + std::to_string(i)).status, 201);
  }
  // A turn's relay to the agent is written after the turn is answered; the store writes in
  // order, so once a later write is answered every relay is stored and the replay has it.
  (void)create_conversation();

  auto back = connect(token, last);  // hello {resume_after: last, ref: "h"}
  std::vector<std::string> texts;
  std::int64_t newest = last;
  std::optional<json> hello_ack;
  for (auto frame = back->read(); frame; frame = back->read()) {
    if (frame->value("type", "") == "ack" && frame->value("ref", "") == "h") {
      hello_ack = frame;
      break;
    }
    if (frame->value("type", "") != "turn") continue;
    EXPECT_GT((*frame)["seq"].get<std::int64_t>(), newest);
    newest = (*frame)["seq"];
    if ((*frame)["turn"].value("role", "") == "user") texts.push_back((*frame)["turn"]["text"]);
  }

  EXPECT_FALSE(back->closed());
  ASSERT_EQ(texts.size(), static_cast<std::size_t>(kMissed));
  for (int i = 0; i < kMissed; ++i) EXPECT_EQ(texts[i], "m" + std::to_string(i + 1));
  // The hello is answered after the replay, with the newest seq it sent.
  ASSERT_TRUE(hello_ack.has_value());
  EXPECT_EQ((*hello_ack)["last_seq"], newest);
  // And the connection is live afterwards.
  ASSERT_EQ(post_turn(conv, "user", "live").status, 201);
  auto live = read_customer_turn(*back);
  ASSERT_TRUE(live.has_value());
  EXPECT_EQ((*live)["turn"]["text"], "live");
}

TEST_F(AgentsTest, RestartRestoresQueuesOffersAndAssignments) {
  const std::string token = create_agent({"ana", {}, {}, 2});
  auto ana = connect(token);
  const std::string held = escalate("slow");
  auto offer = ana->read_type("offer");
  ASSERT_TRUE(offer.has_value());
  accept(*ana, *offer);
  const std::string offered = escalate("slow");
  auto open_offer = ana->read_type("offer");
  ASSERT_TRUE(open_offer.has_value());
  const std::string waiting = escalate("billing_en", 0, "en");

  // The server dies with the agent still connected, as in a crash. Dropping the connection
  // first would race the kill: a server that sees the close in time revokes the open offer
  // (agent_disconnected), and the accept after the restart then names an offer that is gone.
  server_->kill9();
  ana->drop();
  ASSERT_TRUE(server_->start()) << server_->log();
  auto queues = call("GET", "/v1/queues", {}, kReadKey).json()["queues"];
  auto back = connect(token);
  ASSERT_TRUE(back->read_type("ack").has_value());
  back->send_json({{"type", "accept"},
                   {"ref", "after-restart"},
                   {"conversation_id", offered},
                   {"offer_id", (*open_offer)["offer_id"]}});
  auto accepted = back->read_type("ack");
  back->send_json({{"type", "message"}, {"conversation_id", held}, {"text", "still here"}});
  auto message = back->read_type("ack");

  const auto billing = std::find_if(queues.begin(), queues.end(),
                                    [](const json& q) { return q["name"] == "billing_en"; });
  ASSERT_NE(billing, queues.end());
  EXPECT_EQ((*billing)["waiting"], 1);
  ASSERT_TRUE(accepted.has_value());
  EXPECT_EQ((*accepted)["ref"], "after-restart");
  ASSERT_TRUE(message.has_value());
  EXPECT_EQ((*message)["for"], "message");
  EXPECT_EQ(state_of(held), "agent");
  EXPECT_EQ(state_of(offered), "agent");
  EXPECT_EQ(state_of(waiting), "queued");
}

TEST_F(AgentsTest, MalformedAndUnknownFramesGetErrorsAndTheConnectionStaysUsable) {
  auto ana = agent({"ana"});
  ASSERT_TRUE(ana->read_type("ack").has_value());

  ana->send("this is not json");
  auto bad_json = ana->read_type("error");
  ana->send_json({{"type", "teleport"}, {"ref", 1}});
  auto unknown = ana->read_type("error");
  ana->send_json({{"type", "accept"}, {"ref", 2}, {"conversation_id", "c_x"}, {"offer_id", "7"}});
  auto wrong_field = ana->read_type("error");
  ana->send_json({{"type", "accept"}, {"ref", 3}, {"conversation_id", "c_x"}, {"offer_id", 7}});
  auto routing_error = ana->read_type("error");
  ana->send_json({{"type", "ping"}, {"ref", 4}});
  auto pong = ana->read_type("ack");

  ASSERT_TRUE(bad_json && unknown && wrong_field && routing_error && pong);
  EXPECT_EQ((*bad_json)["code"], "bad_json");
  EXPECT_EQ((*unknown)["code"], "unknown_type");
  EXPECT_EQ((*unknown)["ref"], 1);
  EXPECT_EQ((*wrong_field)["code"], "invalid_field");
  EXPECT_EQ((*wrong_field)["ref"], 2);
  EXPECT_EQ((*routing_error)["code"], "unknown_conversation");
  EXPECT_EQ((*pong)["ref"], 4);
}

TEST_F(AgentsTest, UpgradeNeedsAValidTokenOfAnEnabledAgent) {
  const std::string token = create_agent({"ana"});
  WsClient none, bad, by_query;

  EXPECT_FALSE(none.connect(server_->port(), kWsPath));
  EXPECT_FALSE(bad.connect(server_->port(), kWsPath, "hat_wrong"));
  EXPECT_TRUE(by_query.connect(server_->port(), std::string(kWsPath) + "?access_token=" + token));
  EXPECT_EQ(none.refused_status(), 401);
  EXPECT_EQ(bad.refused_status(), 401);
  EXPECT_NE(none.refused_body().find("/problems/unauthenticated"), std::string::npos);

  ASSERT_EQ(call("PATCH", "/v1/admin/agents/ana", R"({"disabled":true})", kAdminKey).status, 200);
  WsClient disabled;
  EXPECT_FALSE(disabled.connect(server_->port(), kWsPath, token));
  EXPECT_EQ(disabled.refused_status(), 403);
  EXPECT_TRUE(by_query.read_type("welcome").has_value());
}

TEST_F(AgentsTest, AdminValidatesNumbersAndShowsTheTokenOnce) {
  const auto bad = [&](const std::string& capacity) {
    return call("POST", "/v1/admin/agents", R"({"id":"x","name":"x","capacity":)" + capacity + "}",
                kAdminKey);
  };

  EXPECT_EQ(bad("\"3\"").status, 422);
  EXPECT_EQ(bad("-1").status, 422);
  EXPECT_EQ(bad("0").status, 422);
  EXPECT_EQ(bad("51").status, 422);
  EXPECT_EQ(bad("2.5").status, 422);
  EXPECT_EQ(bad("1e30").status, 422);
  EXPECT_EQ(bad("3").status, 201);
  auto got = call("GET", "/v1/admin/agents/x", {}, kAdminKey);
  EXPECT_EQ(got.status, 200);
  EXPECT_FALSE(got.json().contains("token"));
  EXPECT_EQ(got.json()["capacity"], 3);
  EXPECT_EQ(call("GET", "/v1/admin/agents/x", {}, kReadKey).status, 403);
  EXPECT_EQ(call("PATCH", "/v1/admin/agents/x", R"({"capacity":100})", kAdminKey).status, 422);
  EXPECT_EQ(call("GET", "/v1/admin/agents/nobody", {}, kAdminKey).status, 404);
}

// A language no conversation can have ("english") would leave the agent without offers.
TEST_F(AgentsTest, AdminTakesOnlyLanguageTags) {
  const auto with = [&](const std::string& id, const std::string& languages) {
    return call("POST", "/v1/admin/agents",
                R"({"id":")" + id + R"(","name":"x","languages":)" + languages + "}", kAdminKey);
  };

  for (const char* bad : {R"(["english"])", R"(["d"])", R"(["de-"])", R"(["-de"])",
                          R"(["de--CH"])", R"(["d3"])", R"(["de-toolongsubtag"])"}) {
    SCOPED_TRACE(bad);
    auto refused = with("bad", bad);
    EXPECT_EQ(refused.status, 422) << refused.body;
    EXPECT_NE(refused.body.find("/languages/0"), std::string::npos) << refused.body;
  }
  EXPECT_EQ(with("a1", R"(["de","en-GB","DE-CH","gsw"])").status, 201);
}

TEST_F(AgentsTest, RotatingTheTokenRefusesTheOldOneAndClosesItsConnections) {
  const std::string old_token = create_agent({"ana"});
  auto ana = connect(old_token);

  auto rotated = call("POST", "/v1/admin/agents/ana/token", {}, kAdminKey);
  const std::string new_token = rotated.json().value("token", "");
  WsClient with_old, with_new;

  ASSERT_EQ(rotated.status, 200) << rotated.body;
  EXPECT_NE(new_token, old_token);
  EXPECT_FALSE(with_old.connect(server_->port(), kWsPath, old_token));
  EXPECT_TRUE(with_new.connect(server_->port(), kWsPath, new_token));
  ana->read(3000);
  ana->drain(500);
  EXPECT_TRUE(ana->closed());
}

TEST_F(AgentsTest, AConnectionCutOffByATokenRotationIsOfflineBeforeThePeerAnswers) {
  auto ana = agent({"ana"});
  ASSERT_TRUE(ana->read_type("ack").has_value());  // of the hello

  // Ana's client reads nothing from here on, like a lost device: it never answers the close.
  auto rotated = call("POST", "/v1/admin/agents/ana/token", {}, kAdminKey);
  auto agents = call("GET", "/v1/agents", {}, kReadKey);
  auto queues = call("GET", "/v1/queues", {}, kAdminKey);

  ASSERT_EQ(rotated.status, 200) << rotated.body;
  ASSERT_EQ(agents.json()["agents"].size(), 1u);
  EXPECT_EQ(agents.json()["agents"][0]["connected"], false);
  EXPECT_EQ(agents.json()["agents"][0]["presence"], "offline");
  for (const auto& q : queues.json()["queues"]) EXPECT_EQ(q["agents_available"], 0) << q;
}

TEST_F(AgentsTest, ABinaryFrameIsAnsweredWithAnErrorAndTheConnectionStays) {
  auto ana = agent({"ana"});

  ASSERT_TRUE(ana->send_binary(std::string("\x01\x02", 2)));
  auto error = ana->read_type("error");
  const std::string conv = escalate();
  auto offer = ana->read_type("offer");

  ASSERT_TRUE(error.has_value());
  EXPECT_EQ((*error)["code"], "bad_json");
  ASSERT_TRUE(offer.has_value()) << "the connection did not stay";
  EXPECT_EQ((*offer)["conversation_id"], conv);
}

TEST_F(AgentsTest, AgentsAndQueuesViewsShowPresenceLoadAndWaiting) {
  auto ana = agent({"ana", {"support"}, {"de"}, 3});
  auto ben = agent({"ben"});
  ben->send_json({{"type", "presence"}, {"status", "away"}, {"ref", "p"}});
  ASSERT_TRUE(ben->read_type("ack").has_value());
  escalate("billing_en", 0, "en");

  auto agents = call("GET", "/v1/agents", {}, kReadKey);
  auto queues = call("GET", "/v1/queues", {}, kAdminKey);

  ASSERT_EQ(agents.status, 200);
  ASSERT_EQ(agents.json()["agents"].size(), 2u);
  EXPECT_EQ(agents.json()["agents"][0]["presence"], "online");
  EXPECT_EQ(agents.json()["agents"][0]["capacity"], 3);
  EXPECT_EQ(agents.json()["agents"][1]["presence"], "away");
  ASSERT_EQ(queues.status, 200);
  for (const auto& q : queues.json()["queues"]) {
    if (q["name"] == "billing_en") {
      EXPECT_EQ(q["waiting"], 1);
    }
    if (q["name"] == "support_de") {
      EXPECT_EQ(q["agents_online"], 1);
    }
  }
  EXPECT_EQ(call("GET", "/v1/queues", {}, kWidgetKey).status, 403);
}

TEST_F(AgentsTest, HandoverOfAConversationNotWithTheBotIsAConflict) {
  auto ana = agent({"ana"});
  const std::string conv = escalate();

  auto again = handover(conv, "general");
  auto unknown_queue = handover(create_conversation(), "nowhere");

  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(again.json()["type"], "/problems/conversation-state");
  EXPECT_EQ(unknown_queue.status, 422);
}

TEST_F(AgentsTest, ASilentAgentIsDetectedAndItsOfferMovesOn) {
  server_ = std::make_unique<ServerProcess>(
      ServerSettings::yaml("websocket:\n  ping_interval_ms: 200\n  pong_timeout_ms: 200\n"));
  ASSERT_TRUE(server_->start()) << server_->log();
  auto silent = agent({"ana"});
  const std::string conv = escalate();
  auto first = silent->read_type("offer");
  ASSERT_TRUE(first.has_value());
  auto bob = agent({"bob"});

  // From here on nobody reads `silent`, so its pings go unanswered, as with a peer whose
  // machine went away without closing the socket. The offer itself would time out only
  // after 5 s, so an offer within 2.5 s comes from the dead-peer detection.
  auto second = bob->read_type("offer", 2500);

  ASSERT_TRUE(second.has_value()) << "the offer did not move on from the dead connection";
  EXPECT_EQ((*second)["conversation_id"], conv);
}

}  // namespace
}  // namespace handover::testing
