// Tests for the routing state machine, driven through its inputs with a fake clock.
#include "handover/routing/router.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "handover/util/clock.hpp"

namespace handover::routing {
namespace {

constexpr std::int64_t kSecond = 1000;

template <class T>
std::vector<T> all_of(const Effects& effects) {
  std::vector<T> out;
  for (const Effect& effect : effects) {
    if (const T* item = std::get_if<T>(&effect)) out.push_back(*item);
  }
  return out;
}

std::vector<std::string> event_types(const Effects& effects) {
  std::vector<std::string> out;
  for (const Event& event : all_of<Event>(effects)) out.push_back(event.type);
  return out;
}

QueueConfig make_queue(std::string name, std::vector<std::string> skills = {"support"},
                       std::vector<std::string> languages = {"de"}) {
  QueueConfig queue;
  queue.name = std::move(name);
  queue.skills = std::move(skills);
  queue.languages = std::move(languages);
  return queue;
}

RoutingConfig make_config() {
  RoutingConfig config;
  config.decline_cooldown_s = 60;
  config.reconnect_grace_s = 30;
  config.requeue_priority_boost = 10;
  config.position_update_interval_ms = 0;
  config.queues.push_back(make_queue("de"));
  config.queues.push_back(make_queue("en", {"support"}, {"en"}));
  QueueConfig vip = make_queue("vip", {"support", "retention"}, {"de"});
  vip.offer_mode = OfferMode::kBroadcast;
  vip.broadcast_size = 3;
  vip.self_pick = true;
  config.queues.push_back(vip);
  return config;
}

AgentProfile make_agent(std::string id, int capacity = 1,
                        std::vector<std::string> skills = {"support"},
                        std::vector<std::string> languages = {"de", "en"}) {
  AgentProfile profile;
  profile.id = id;
  profile.display_name = "Agent " + id;
  profile.skills = std::move(skills);
  profile.languages = std::move(languages);
  profile.capacity = capacity;
  return profile;
}

Escalation make_escalation(std::string id, std::string queue = "de", int priority = 0,
                           std::string customer = "") {
  Escalation e;
  e.conversation_id = std::move(id);
  e.customer_id = std::move(customer);
  e.queue = std::move(queue);
  e.priority = priority;
  e.snapshot = std::make_shared<const std::string>("{\"snapshot_version\":1}");
  return e;
}

class RouterTest : public ::testing::Test {
 protected:
  explicit RouterTest(RoutingConfig config = make_config())
      : router_(std::make_unique<Router>(std::move(config), clock_)) {}

  Effects ok(Result<Effects> result) {
    EXPECT_TRUE(result.is_ok()) << result.status().to_string();
    if (!result.is_ok()) return {};
    for (const Effect& effect : *result) {
      if (const Event* event = std::get_if<Event>(&effect)) log_.push_back(*event);
    }
    return std::move(result).value();
  }

  Effects online(const std::string& id, int capacity = 1,
                 std::vector<std::string> skills = {"support"},
                 std::vector<std::string> languages = {"de", "en"}) {
    return ok(router_->agent_online(make_agent(id, capacity, std::move(skills),
                                               std::move(languages))));
  }

  Effects escalate(Escalation e) { return ok(router_->escalate(e)); }

  Effects advance(std::int64_t ms) {
    clock_.advance_ms(ms);
    Effects effects = router_->tick(clock_.now_ms());
    for (const Event& event : all_of<Event>(effects)) log_.push_back(event);
    return effects;
  }

  // The single offer among `effects`; fails the test when there is not exactly one.
  SendOffer only_offer(const Effects& effects) {
    std::vector<SendOffer> offers = all_of<SendOffer>(effects);
    EXPECT_EQ(offers.size(), 1u);
    return offers.empty() ? SendOffer() : offers.front();
  }

  const AgentView& agent_view(const std::string& id) {
    views_ = router_->agents_view();
    for (const AgentView& view : views_) {
      if (view.id == id) return view;
    }
    ADD_FAILURE() << "no agent " << id;
    return views_.front();
  }

  FakeClock clock_;
  std::unique_ptr<Router> router_;
  std::vector<Event> log_;
  std::vector<AgentView> views_;
};

TEST_F(RouterTest, AnOfferIsOpenUntilItIsAnsweredOrExpires) {
  online("a1");
  online("a2");
  SendOffer offer = only_offer(escalate(make_escalation("c1")));
  const std::string other = offer.agent_id == "a1" ? "a2" : "a1";

  const bool open_at_first = router_->has_open_offer(offer.agent_id, "c1");
  const bool open_for_other = router_->has_open_offer(other, "c1");
  clock_.advance_ms(30 * kSecond);  // expired, before the timer has run
  const bool open_after_expiry = router_->has_open_offer(offer.agent_id, "c1");

  EXPECT_TRUE(open_at_first);
  EXPECT_FALSE(open_for_other);
  EXPECT_FALSE(open_after_expiry);
  EXPECT_FALSE(router_->has_open_offer(offer.agent_id, "unknown"));
}

TEST_F(RouterTest, AnAcceptedOfferIsNoLongerOpen) {
  online("a1");
  SendOffer offer = only_offer(escalate(make_escalation("c1")));

  ok(router_->accept("a1", "c1", offer.offer_id));

  EXPECT_FALSE(router_->has_open_offer("a1", "c1"));
}

TEST_F(RouterTest, OfferThenAccept) {
  online("a1");

  Effects escalated = escalate(make_escalation("c1"));
  SendOffer offer = only_offer(escalated);
  Effects accepted = ok(router_->accept("a1", "c1", offer.offer_id));

  EXPECT_EQ(offer.agent_id, "a1");
  EXPECT_EQ(offer.expires_at_ms, clock_.now_ms() + 30 * kSecond);
  EXPECT_EQ(*offer.snapshot, "{\"snapshot_version\":1}");
  ASSERT_EQ(all_of<Assigned>(accepted).size(), 1u);
  EXPECT_EQ(all_of<Assigned>(accepted).front().agent_id, "a1");
  EXPECT_EQ(event_types(accepted), std::vector<std::string>{"accepted"});
  EXPECT_EQ(agent_view("a1").load, 1);
  EXPECT_EQ(router_->position("c1")->assigned_agent, "a1");
}

TEST_F(RouterTest, DeclineOffersTheNextAgent) {
  online("a1");
  clock_.advance_ms(kSecond);
  online("a2");
  SendOffer first = only_offer(escalate(make_escalation("c1")));

  Effects declined = ok(router_->decline("a1", "c1", first.offer_id, "busy"));

  EXPECT_EQ(first.agent_id, "a1");  // longest idle
  EXPECT_EQ(only_offer(declined).agent_id, "a2");
  Event event = all_of<Event>(declined).front();
  EXPECT_EQ(event.type, "declined");
  EXPECT_EQ(event.data.at("reason"), "busy");
  // The decliner's offer ends in its own event stream too.
  std::vector<RevokeOffer> revoked = all_of<RevokeOffer>(declined);
  ASSERT_EQ(revoked.size(), 1u);
  EXPECT_EQ(revoked.front().agent_id, "a1");
  EXPECT_EQ(revoked.front().offer_id, first.offer_id);
  EXPECT_EQ(revoked.front().reason, "declined");
}

TEST_F(RouterTest, TimeoutOffersTheNextAgentAndLateAcceptIsRefused) {
  online("a1");
  clock_.advance_ms(kSecond);
  online("a2");
  SendOffer first = only_offer(escalate(make_escalation("c1")));

  Effects before = advance(29 * kSecond);
  Effects expired = advance(kSecond);
  Result<Effects> late = router_->accept("a1", "c1", first.offer_id);

  EXPECT_TRUE(all_of<SendOffer>(before).empty());
  ASSERT_EQ(all_of<RevokeOffer>(expired).size(), 1u);
  EXPECT_EQ(all_of<RevokeOffer>(expired).front().reason, "expired");
  EXPECT_EQ(only_offer(expired).agent_id, "a2");
  ASSERT_FALSE(late.is_ok());
  EXPECT_EQ(error_code(late.status()), kOfferExpired);
}

TEST_F(RouterTest, AcceptAfterDeadlineBeforeTickIsRefused) {
  online("a1");
  SendOffer offer = only_offer(escalate(make_escalation("c1")));
  clock_.advance_ms(30 * kSecond);

  Result<Effects> late = router_->accept("a1", "c1", offer.offer_id);

  ASSERT_FALSE(late.is_ok());
  EXPECT_EQ(error_code(late.status()), kOfferExpired);
}

TEST_F(RouterTest, CooldownKeepsTheDeclinerAwayUntilItEnds) {
  online("a1", 2);
  SendOffer first = only_offer(escalate(make_escalation("c1")));

  Effects declined = ok(router_->decline("a1", "c1", first.offer_id, "wrong_topic"));
  Effects during = advance(59 * kSecond);
  Effects after = advance(kSecond);

  EXPECT_TRUE(all_of<SendOffer>(declined).empty());
  EXPECT_TRUE(all_of<SendOffer>(during).empty());
  EXPECT_EQ(only_offer(after).agent_id, "a1");
}

TEST_F(RouterTest, WaitsWithoutAgentThenArrivingAgentGetsIt) {
  Effects escalated = escalate(make_escalation("c1"));

  Effects arrived = online("a1");

  EXPECT_TRUE(all_of<SendOffer>(escalated).empty());
  ASSERT_EQ(all_of<NoAgent>(escalated).size(), 1u);
  EXPECT_TRUE(all_of<NoAgent>(escalated).front().queued);
  EXPECT_EQ(only_offer(arrived).conversation_id, "c1");
}

TEST_F(RouterTest, CapacityIsNeverExceeded) {
  online("a1", 1);
  std::vector<SendOffer> offers;
  for (int i = 0; i < 20; ++i) {
    Effects effects = escalate(make_escalation("c" + std::to_string(i)));
    for (const SendOffer& offer : all_of<SendOffer>(effects)) offers.push_back(offer);
    EXPECT_LE(agent_view("a1").load + agent_view("a1").open_offers, 1);
  }
  ASSERT_EQ(offers.size(), 1u);

  for (int served = 0; served < 20; ++served) {
    SCOPED_TRACE(served);
    SendOffer offer = offers.back();
    ok(router_->accept("a1", offer.conversation_id, offer.offer_id));
    EXPECT_EQ(agent_view("a1").open_offers, 0);
    Effects resolved =
        ok(router_->resolve("a1", offer.conversation_id, Feedback{Justified::kYes, "done", ""}));
    std::vector<SendOffer> next = all_of<SendOffer>(resolved);
    EXPECT_LE(next.size(), 1u);
    EXPECT_LE(agent_view("a1").load + agent_view("a1").open_offers, 1);
    if (next.empty()) break;
    offers.push_back(next.front());
  }
  EXPECT_EQ(offers.size(), 20u);
}

TEST_F(RouterTest, MatchesSkillsAndLanguage) {
  struct Case {
    const char* what;
    std::vector<std::string> skills;
    std::vector<std::string> languages;
    std::string queue;
    std::string language;
    bool offered;
  };
  const Case kCases[] = {
      {"all skills, language", {"support"}, {"de"}, "de", "", true},
      {"missing skill", {"sales"}, {"de"}, "de", "", false},
      {"wrong language", {"support"}, {"en"}, "de", "", false},
      {"regional tag matches primary", {"support"}, {"de"}, "de", "de-CH", true},
      {"escalation language wins", {"support"}, {"en"}, "de", "en", true},
      {"queue needs two skills", {"support"}, {"de"}, "vip", "", false},
      {"has both skills", {"support", "retention"}, {"de"}, "vip", "", true},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.what);
    router_ = std::make_unique<Router>(make_config(), clock_);
    online("a1", 1, c.skills, c.languages);
    Escalation e = make_escalation("c1", c.queue);
    e.language = c.language;

    Effects effects = escalate(e);

    EXPECT_EQ(all_of<SendOffer>(effects).size(), c.offered ? 1u : 0u);
  }
}

TEST_F(RouterTest, FreedAgentGetsHighestPriorityThenOldest) {
  escalate(make_escalation("low_old", "de", 0));
  clock_.advance_ms(kSecond);
  escalate(make_escalation("high_new", "en", 5));
  clock_.advance_ms(kSecond);
  escalate(make_escalation("high_newer", "de", 5));

  Effects arrived = online("a1");

  EXPECT_EQ(only_offer(arrived).conversation_id, "high_new");
  EXPECT_EQ(router_->position("high_newer")->position, 1);
  EXPECT_EQ(router_->position("low_old")->position, 2);
}

TEST_F(RouterTest, StickyAgentIsPreferred) {
  online("a1", 2);
  clock_.advance_ms(kSecond);
  online("a2", 2);
  SendOffer first = only_offer(escalate(make_escalation("c1", "de", 0, "cust")));
  ASSERT_EQ(first.agent_id, "a1");
  clock_.advance_ms(kSecond);
  ok(router_->accept("a1", "c1", first.offer_id));
  ok(router_->resolve("a1", "c1", Feedback{}));

  SendOffer other = only_offer(escalate(make_escalation("c2", "de", 0, "someone")));
  SendOffer again = only_offer(escalate(make_escalation("c3", "de", 0, "cust")));

  EXPECT_EQ(other.agent_id, "a2");  // a1 served last, so a2 is longest idle
  EXPECT_EQ(again.agent_id, "a1");
}

TEST_F(RouterTest, BroadcastFirstAcceptWinsOthersRevoked) {
  for (const char* id : {"a1", "a2", "a3", "a4"}) online(id, 1, {"support", "retention"});

  std::vector<SendOffer> offers = all_of<SendOffer>(escalate(make_escalation("c1", "vip")));
  ASSERT_EQ(offers.size(), 3u);
  EXPECT_EQ(offers[0].snapshot.get(), offers[2].snapshot.get());  // serialised once
  Effects won = ok(router_->accept(offers[1].agent_id, "c1", offers[1].offer_id));
  Result<Effects> lost = router_->accept(offers[0].agent_id, "c1", offers[0].offer_id);

  std::vector<RevokeOffer> revoked = all_of<RevokeOffer>(won);
  ASSERT_EQ(revoked.size(), 2u);
  EXPECT_EQ(revoked[0].reason, "accepted_elsewhere");
  ASSERT_FALSE(lost.is_ok());
  EXPECT_EQ(error_code(lost.status()), kOfferRevoked);
}

TEST_F(RouterTest, TwoAcceptsOfOneConversationHaveOneWinner) {
  online("a1");
  SendOffer offer = only_offer(escalate(make_escalation("c1")));

  Result<Effects> first = router_->accept("a1", "c1", offer.offer_id);
  Result<Effects> second = router_->accept("a1", "c1", offer.offer_id);
  Result<Effects> stranger = router_->accept("a2", "c1", offer.offer_id);

  EXPECT_TRUE(first.is_ok());
  ASSERT_FALSE(second.is_ok());
  EXPECT_EQ(error_code(second.status()), kAlreadyAssigned);
  ASSERT_FALSE(stranger.is_ok());
  EXPECT_EQ(error_code(stranger.status()), kAlreadyAssigned);
  EXPECT_EQ(agent_view("a1").load, 1);
}

TEST_F(RouterTest, SelfPickClaimIgnoresCooldownButNeedsASelfPickQueue) {
  online("a1", 2, {"support", "retention"});
  SendOffer vip = only_offer(escalate(make_escalation("c1", "vip")));
  ok(router_->decline("a1", "c1", vip.offer_id, "later"));
  SendOffer plain = only_offer(escalate(make_escalation("c2", "de")));
  ok(router_->decline("a1", "c2", plain.offer_id, "later"));

  Result<Effects> refused = router_->claim("a1", "c2");
  Effects claimed = ok(router_->claim("a1", "c1"));

  ASSERT_FALSE(refused.is_ok());
  EXPECT_EQ(error_code(refused.status()), kSelfPickDisabled);
  ASSERT_EQ(all_of<Assigned>(claimed).size(), 1u);
  EXPECT_EQ(event_types(claimed), std::vector<std::string>{"claimed"});
  EXPECT_EQ(router_->position("c1")->assigned_agent, "a1");
}

TEST_F(RouterTest, ClaimRevokesOpenOffersOfOthers) {
  online("a1", 1, {"support", "retention"});
  SendOffer offer = only_offer(escalate(make_escalation("c1", "vip")));
  ASSERT_EQ(offer.agent_id, "a1");
  online("a2", 1, {"support", "retention"});  // broadcast: a2 gets an offer too
  online("a3", 1, {"support", "retention"});

  ok(router_->set_presence("a3", Presence::kAway));
  Result<Effects> away = router_->claim("a3", "c1");
  ok(router_->set_presence("a3", Presence::kOnline));
  Effects claimed = ok(router_->claim("a3", "c1"));

  ASSERT_FALSE(away.is_ok());
  EXPECT_EQ(error_code(away.status()), kNotEligible);
  EXPECT_EQ(all_of<Assigned>(claimed).front().agent_id, "a3");
  EXPECT_EQ(all_of<RevokeOffer>(claimed).size(), 3u);  // a3 held the third offer
  EXPECT_EQ(agent_view("a1").open_offers, 0);
}

TEST_F(RouterTest, ClaimingWhatTheAgentWasOfferedEndsThatOfferToo) {
  online("a1", 1, {"support", "retention"});
  SendOffer offer = only_offer(escalate(make_escalation("c1", "vip")));

  Effects claimed = ok(router_->claim("a1", "c1"));

  ASSERT_EQ(all_of<Assigned>(claimed).size(), 1u);
  std::vector<RevokeOffer> revoked = all_of<RevokeOffer>(claimed);
  ASSERT_EQ(revoked.size(), 1u);
  EXPECT_EQ(revoked.front().agent_id, "a1");
  EXPECT_EQ(revoked.front().offer_id, offer.offer_id);
  EXPECT_EQ(revoked.front().reason, "claimed");
  EXPECT_EQ(agent_view("a1").open_offers, 0);
}

TEST_F(RouterTest, TransferToQueueAndToAgent) {
  online("a1", 1, {"support"}, {"de"});
  SendOffer offer = only_offer(escalate(make_escalation("c1", "de")));
  ok(router_->accept("a1", "c1", offer.offer_id));
  online("a2", 1, {"support"}, {"en"});

  Effects moved = ok(router_->transfer("a1", "c1", TransferTarget{"en", ""}, "speaks English"));
  SendOffer to_a2 = only_offer(moved);
  ok(router_->accept("a2", "c1", to_a2.offer_id));
  online("a3", 1, {"support"}, {"en"});
  Effects handed = ok(router_->transfer("a2", "c1", TransferTarget{"", "a3"}, "billing case"));

  EXPECT_EQ(all_of<Unassigned>(moved).front().reason, "transferred");
  EXPECT_EQ(all_of<Unassigned>(moved).front().note, "speaks English");
  EXPECT_EQ(to_a2.queue, "en");
  EXPECT_EQ(only_offer(handed).agent_id, "a3");
  EXPECT_EQ(event_types(handed).front(), "transferred");
  EXPECT_EQ(all_of<Event>(handed).front().data.at("to_agent"), "a3");
  // Each offer after a transfer says who handed it on and why; the first one had nobody.
  EXPECT_EQ(offer.handed_over_by, "");
  EXPECT_EQ(to_a2.handed_over_by, "a1");
  EXPECT_EQ(to_a2.handover_note, "speaks English");
  EXPECT_EQ(only_offer(handed).handed_over_by, "a2");
  EXPECT_EQ(only_offer(handed).handover_note, "billing case");
}

TEST_F(RouterTest, AHandoverNoteLastsUntilSomeoneAccepts) {
  online("a1");
  SendOffer first = only_offer(escalate(make_escalation("c1")));
  ok(router_->accept("a1", "c1", first.offer_id));
  online("a2");
  clock_.advance_ms(kSecond);
  online("a3");
  SendOffer to_a2 = only_offer(ok(router_->transfer("a1", "c1", TransferTarget{"de", ""}, "vip")));
  ASSERT_EQ(to_a2.agent_id, "a2");

  // a2 declines: the next offer still carries the note.
  SendOffer to_a3 = only_offer(ok(router_->decline("a2", "c1", to_a2.offer_id, "busy")));
  EXPECT_EQ(to_a3.handed_over_by, "a1");
  EXPECT_EQ(to_a3.handover_note, "vip");
  // a3 accepts and drops out past the grace period: the offer that follows has no note.
  ok(router_->accept("a3", "c1", to_a3.offer_id));
  ok(router_->agent_disconnected("a3"));
  online("a4");
  Effects expired = advance(30 * kSecond);
  ASSERT_EQ(event_types(expired).front(), "requeued");
  const std::vector<SendOffer> offers = all_of<SendOffer>(expired);
  ASSERT_FALSE(offers.empty());
  for (const SendOffer& offer : offers) {
    EXPECT_EQ(offer.handed_over_by, "");
    EXPECT_EQ(offer.handover_note, "");
  }
}

TEST_F(RouterTest, TransferRefusals) {
  online("a1");
  SendOffer offer = only_offer(escalate(make_escalation("c1")));
  ok(router_->accept("a1", "c1", offer.offer_id));

  struct Case {
    const char* what;
    std::string agent;
    TransferTarget target;
    std::string_view code;
  };
  const Case kCases[] = {
      {"not the assignee", "a9", {"en", ""}, kNotAssigned},
      {"unknown queue", "a1", {"nope", ""}, kUnknownQueue},
      {"unknown agent", "a1", {"", "a9"}, kUnknownAgent},
      {"to itself", "a1", {"", "a1"}, kAgentUnavailable},
      {"both targets", "a1", {"en", "a1"}, kInvalidArgument},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.what);
    Result<Effects> result = router_->transfer(c.agent, "c1", c.target, "");
    ASSERT_FALSE(result.is_ok());
    EXPECT_EQ(error_code(result.status()), c.code);
  }
}

// A conversation transferred to one agent waits for that agent alone: one who lacks its
// skills or language would leave it with nobody.
TEST_F(RouterTest, ATransferToAnAgentWhoCannotTakeItIsRefused) {
  online("a1");
  SendOffer offer = only_offer(escalate(make_escalation("c1")));  // queue "de": German
  ok(router_->accept("a1", "c1", offer.offer_id));
  online("en_only", 1, {"support"}, {"en"});
  online("no_skill", 1, {}, {"de"});

  for (const char* target : {"en_only", "no_skill"}) {
    SCOPED_TRACE(target);
    Result<Effects> result = router_->transfer("a1", "c1", TransferTarget{"", target}, "");
    ASSERT_FALSE(result.is_ok());
    EXPECT_EQ(error_code(result.status()), kNotEligible);
  }
  online("a2");
  Effects handed = ok(router_->transfer("a1", "c1", TransferTarget{"", "a2"}, ""));
  EXPECT_EQ(only_offer(handed).agent_id, "a2");
}

TEST_F(RouterTest, ATransferBackToAnAgentWhoJustDeclinedIsRefused) {
  online("a1");
  clock_.advance_ms(kSecond);
  online("a2");
  SendOffer first = only_offer(escalate(make_escalation("c1")));
  ASSERT_EQ(first.agent_id, "a1");
  SendOffer second = only_offer(ok(router_->decline("a1", "c1", first.offer_id, "busy")));
  ok(router_->accept("a2", "c1", second.offer_id));

  Result<Effects> result = router_->transfer("a2", "c1", TransferTarget{"", "a1"}, "");

  ASSERT_FALSE(result.is_ok());
  EXPECT_EQ(error_code(result.status()), kNotEligible);
}

TEST_F(RouterTest, ReturnToBotForgetsTheConversation) {
  online("a1");
  SendOffer offer = only_offer(escalate(make_escalation("c1")));
  ok(router_->accept("a1", "c1", offer.offer_id));

  Effects returned = ok(router_->return_to_bot("a1", "c1", "order status answered"));

  EXPECT_EQ(event_types(returned), std::vector<std::string>{"returned"});
  EXPECT_EQ(all_of<Event>(returned).front().data.at("note"), "order status answered");
  EXPECT_EQ(all_of<Unassigned>(returned).front().reason, "returned");
  EXPECT_EQ(error_code(router_->position("c1").status()), kUnknownConversation);
  EXPECT_EQ(agent_view("a1").load, 0);
}

TEST_F(RouterTest, ResolveRecordsFeedback) {
  online("a1");
  SendOffer offer = only_offer(escalate(make_escalation("c1")));
  ok(router_->accept("a1", "c1", offer.offer_id));

  Result<Effects> bad = router_->resolve("a1", "c1", Feedback{Justified::kNo, "Bad Code!", ""});
  Effects resolved =
      ok(router_->resolve("a1", "c1", Feedback{Justified::kTooLate, "angry_customer", "late"}));
  Result<Effects> again = router_->resolve("a1", "c1", Feedback{});

  EXPECT_EQ(error_code(bad.status()), kInvalidArgument);
  Event event = all_of<Event>(resolved).front();
  EXPECT_EQ(event.type, "resolved");
  EXPECT_EQ(event.data.at("justified"), "too_late");
  EXPECT_EQ(event.data.at("reason_code"), "angry_customer");
  EXPECT_EQ(event.data.at("note"), "late");
  EXPECT_EQ(error_code(again.status()), kUnknownConversation);
}

TEST_F(RouterTest, DisconnectReturnsOffersAtOnce) {
  online("a1");
  clock_.advance_ms(kSecond);
  online("a2", 1, {"support"}, {"en"});
  clock_.advance_ms(kSecond);
  SendOffer offer = only_offer(escalate(make_escalation("c1")));
  online("a3");

  Effects dropped = ok(router_->agent_disconnected("a1"));

  EXPECT_EQ(offer.agent_id, "a1");
  EXPECT_EQ(all_of<RevokeOffer>(dropped).front().reason, "agent_disconnected");
  EXPECT_EQ(only_offer(dropped).agent_id, "a3");
}

// "Online" counts an agent who is away; "available" does not: the wait a user is told rests on
// the agents who can get offers.
TEST_F(RouterTest, QueueViewsCountAgentsOnlineAndAvailable) {
  online("a1");
  online("a2");
  ok(router_->set_presence("a2", Presence::kAway));
  const auto de_view = [&] {
    for (const QueueView& view : router_->queues_view()) {
      if (view.name == "de") return view;
    }
    ADD_FAILURE() << "no queue de";
    return QueueView{};
  };

  EXPECT_EQ(de_view().agents_online, 2);
  EXPECT_EQ(de_view().agents_available, 1);
  ok(router_->set_presence("a1", Presence::kAway));
  EXPECT_EQ(de_view().agents_available, 0);
  ok(router_->set_presence("a2", Presence::kOnline));
  ok(router_->agent_disconnected("a1"));
  EXPECT_EQ(de_view().agents_online, 1);
  EXPECT_EQ(de_view().agents_available, 1);
}

TEST_F(RouterTest, DisconnectKeepsAssignmentsForTheGraceThenRequeuesWithBoost) {
  online("a1");
  SendOffer offer = only_offer(escalate(make_escalation("c1")));
  ok(router_->accept("a1", "c1", offer.offer_id));
  escalate(make_escalation("c2", "de", 5));

  ok(router_->agent_disconnected("a1"));
  Effects during = advance(29 * kSecond);
  Effects expired = advance(kSecond);

  EXPECT_TRUE(all_of<Unassigned>(during).empty());
  ASSERT_EQ(all_of<Unassigned>(expired).size(), 1u);
  EXPECT_EQ(all_of<Unassigned>(expired).front().reason, "grace_expired");
  Event requeued = all_of<Event>(expired).front();
  EXPECT_EQ(requeued.type, "requeued");
  EXPECT_EQ(requeued.data.at("priority"), 10);
  EXPECT_EQ(router_->position("c1")->position, 1);  // boosted past c2's priority 5
  EXPECT_EQ(router_->position("c2")->position, 2);
}

// Users waiting (offered or not) were told the wait; the agents who could take them leave:
// each is told once that nobody can take it now, with the choices.
TEST_F(RouterTest, WaitingUsersAreToldWhenTheLastAgentWhoCouldTakeThemLeaves) {
  online("a1");
  only_offer(escalate(make_escalation("c1")));
  online("a2");
  only_offer(escalate(make_escalation("c2")));
  escalate(make_escalation("c3"));  // waits: both agents are at capacity

  Effects first_left = ok(router_->agent_disconnected("a1"));
  Effects last_left = ok(router_->set_presence("a2", Presence::kOffline));

  // While a2 was there, it could still take each of them.
  EXPECT_TRUE(all_of<NoAgent>(first_left).empty());
  std::vector<std::string> told;
  for (const NoAgent& no_agent : all_of<NoAgent>(last_left)) {
    EXPECT_TRUE(no_agent.queued);
    EXPECT_EQ(no_agent.reason, "no_agent_online");
    told.push_back(no_agent.conversation_id);
  }
  std::sort(told.begin(), told.end());
  EXPECT_EQ(told, (std::vector<std::string>{"c1", "c2", "c3"}));
}

TEST_F(RouterTest, AConversationRequeuedOrTransferredToNobodyTellsTheUserSo) {
  online("a1");
  SendOffer offer = only_offer(escalate(make_escalation("c1")));
  ok(router_->accept("a1", "c1", offer.offer_id));
  ok(router_->agent_disconnected("a1"));
  Effects expired = advance(30 * kSecond);

  ASSERT_EQ(all_of<NoAgent>(expired).size(), 1u);
  EXPECT_EQ(all_of<NoAgent>(expired).front().conversation_id, "c1");
  EXPECT_TRUE(all_of<NoAgent>(expired).front().queued);
  EXPECT_EQ(all_of<NoAgent>(expired).front().reason, "no_agent_online");

  SendOffer again = only_offer(online("a2"));
  ok(router_->accept("a2", "c1", again.offer_id));
  TransferTarget to_queue;
  to_queue.queue = "vip";  // needs a skill nobody online has
  Effects moved = ok(router_->transfer("a2", "c1", to_queue, "for retention"));
  ASSERT_EQ(all_of<NoAgent>(moved).size(), 1u);
  EXPECT_EQ(all_of<NoAgent>(moved).front().queue, "vip");

  SendOffer taken = only_offer(online("a3", 1, {"support", "retention"}));
  TransferTarget back;
  back.queue = "de";
  ok(router_->accept("a3", "c1", taken.offer_id));
  // a2 and a3 serve "de" but cool down after handing it on: nobody can take it.
  EXPECT_EQ(all_of<NoAgent>(ok(router_->transfer("a3", "c1", back, ""))).size(), 1u);

  // With someone free for it, nobody is missing.
  SendOffer fourth = only_offer(online("a4"));
  ok(router_->accept("a4", "c1", fourth.offer_id));
  online("a5");
  Effects to_a5 = ok(router_->transfer("a4", "c1", back, ""));
  EXPECT_EQ(only_offer(to_a5).agent_id, "a5");
  EXPECT_TRUE(all_of<NoAgent>(to_a5).empty());
}

TEST_F(RouterTest, WhenEveryoneOnlineCoolsDownTheUserIsToldSoAndNoWaitIsEstimated) {
  online("a1");
  online("a2");
  SendOffer first = only_offer(escalate(make_escalation("c1")));
  Effects one_left = ok(router_->decline(first.agent_id, "c1", first.offer_id, "busy"));
  SendOffer second = only_offer(one_left);
  const std::int64_t estimate_with_one_left = router_->position("c1")->estimated_wait_s;

  Effects none_left = ok(router_->decline(second.agent_id, "c1", second.offer_id, "busy"));

  EXPECT_TRUE(all_of<NoAgent>(one_left).empty());
  EXPECT_GT(estimate_with_one_left, 0);
  ASSERT_EQ(all_of<NoAgent>(none_left).size(), 1u);
  EXPECT_EQ(all_of<NoAgent>(none_left).front().reason, "no_agent_eligible");
  EXPECT_TRUE(all_of<NoAgent>(none_left).front().queued);
  EXPECT_EQ(router_->position("c1")->estimated_wait_s, -1);
  std::vector<QueueUpdate> updates = all_of<QueueUpdate>(none_left);
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates.front().estimated_wait_s, -1);
  // Once a cooldown ends the conversation is offered again and has an estimate.
  Effects cooled = advance(60 * kSecond);
  EXPECT_EQ(all_of<SendOffer>(cooled).size(), 1u);
  EXPECT_GE(router_->position("c1")->estimated_wait_s, 0);
}

TEST_F(RouterTest, ATransferThatLeavesOnlyCoolingAgentsSaysNoneCanTakeIt) {
  online("a1");
  SendOffer offer = only_offer(escalate(make_escalation("c1")));
  ok(router_->accept("a1", "c1", offer.offer_id));
  TransferTarget back;
  back.queue = "de";

  Effects transferred = ok(router_->transfer("a1", "c1", back, ""));

  ASSERT_EQ(all_of<NoAgent>(transferred).size(), 1u);
  EXPECT_EQ(all_of<NoAgent>(transferred).front().reason, "no_agent_eligible");
  EXPECT_EQ(router_->position("c1")->estimated_wait_s, -1);
}

TEST_F(RouterTest, ReconnectWithinGraceKeepsAssignments) {
  online("a1");
  SendOffer offer = only_offer(escalate(make_escalation("c1")));
  ok(router_->accept("a1", "c1", offer.offer_id));

  ok(router_->agent_disconnected("a1"));
  advance(10 * kSecond);
  ok(router_->agent_reconnected("a1"));
  Effects later = advance(60 * kSecond);

  EXPECT_TRUE(all_of<Unassigned>(later).empty());
  EXPECT_EQ(router_->position("c1")->assigned_agent, "a1");
}

TEST_F(RouterTest, RejectsInvalidCapacity) {
  for (int capacity : {-1, 0, 51, 1'000'000}) {
    SCOPED_TRACE(capacity);
    Result<Effects> result = router_->agent_online(make_agent("a1", capacity));
    ASSERT_FALSE(result.is_ok());
    EXPECT_EQ(error_code(result.status()), kInvalidProfile);
  }
  EXPECT_TRUE(router_->agent_online(make_agent("a1", 50)).is_ok());
}

TEST_F(RouterTest, ReportsPositionAndEstimatedWaitAsTheQueueMoves) {
  Effects first = escalate(make_escalation("c1"));
  clock_.advance_ms(kSecond);
  Effects second = escalate(make_escalation("c2"));
  clock_.advance_ms(kSecond);
  escalate(make_escalation("c3"));

  ASSERT_EQ(all_of<QueueUpdate>(first).size(), 1u);
  EXPECT_EQ(all_of<QueueUpdate>(first).front().position, 1);
  EXPECT_EQ(all_of<QueueUpdate>(first).front().estimated_wait_s, -1);  // nobody online
  EXPECT_EQ(all_of<QueueUpdate>(second).front().position, 2);
  EXPECT_EQ(all_of<QueueUpdate>(second).front().estimated_wait_s, -1);

  Effects arrived = online("a1");
  clock_.advance_ms(4 * kSecond);
  SendOffer offer = only_offer(arrived);
  Effects accepted = ok(router_->accept("a1", offer.conversation_id, offer.offer_id));

  std::vector<QueueUpdate> updates = all_of<QueueUpdate>(accepted);
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_EQ(updates[0].conversation_id, "c2");
  EXPECT_EQ(updates[0].position, 1);
  EXPECT_EQ(updates[0].estimated_wait_s, 4);  // the one offer-to-accept time seen so far
  EXPECT_EQ(updates[1].conversation_id, "c3");
  EXPECT_EQ(updates[1].position, 2);
  EXPECT_EQ(updates[1].estimated_wait_s, 4 + 60);
}

TEST_F(RouterTest, EstimatesStartFromTheQueueSettingsWhileSomeoneIsAvailable) {
  online("a1", 1);
  escalate(make_escalation("c0"));  // offered to a1, who has no room left
  Effects first = escalate(make_escalation("c1"));
  Effects second = escalate(make_escalation("c2"));
  ok(router_->set_presence("a1", Presence::kAway));
  Effects away = escalate(make_escalation("c3"));

  // c0 waits too while its offer is open: c1 is second. Half the offer timeout for the first
  // place, the SLA target for each place after it.
  ASSERT_EQ(all_of<QueueUpdate>(first).size(), 1u);
  EXPECT_EQ(all_of<QueueUpdate>(first).front().position, 2);
  EXPECT_EQ(all_of<QueueUpdate>(first).front().estimated_wait_s, 15 + 60);
  EXPECT_EQ(all_of<QueueUpdate>(second).front().position, 3);
  EXPECT_EQ(all_of<QueueUpdate>(second).front().estimated_wait_s, 15 + 2 * 60);
  ASSERT_FALSE(all_of<QueueUpdate>(away).empty());
  EXPECT_EQ(all_of<QueueUpdate>(away).back().estimated_wait_s, -1);  // everyone away
}

TEST_F(RouterTest, RestoreFromEventsReproducesState) {
  online("a1", 2);
  online("a2", 1, {"support"}, {"en"});
  SendOffer assigned = only_offer(escalate(make_escalation("c1", "de", 0, "cust")));
  ok(router_->accept("a1", "c1", assigned.offer_id));
  SendOffer open = only_offer(escalate(make_escalation("c2")));
  SendOffer to_decline = only_offer(escalate(make_escalation("c3", "en")));
  ok(router_->decline("a2", "c3", to_decline.offer_id, "busy"));
  SendOffer after_decline = only_offer(escalate(make_escalation("c4", "en")));
  ASSERT_EQ(after_decline.agent_id, "a2");
  std::vector<QueueView> queues_before = router_->queues_view();
  std::vector<AgentView> agents_before = router_->agents_view();

  Router restored(make_config(), clock_);
  Status status = restored.restore(log_, [](const std::string& id) {
    return std::make_shared<const std::string>("snap-" + id);
  });

  ASSERT_TRUE(status.is_ok()) << status.to_string();
  std::vector<QueueView> queues_after = restored.queues_view();
  ASSERT_EQ(queues_after.size(), queues_before.size());
  for (std::size_t i = 0; i < queues_after.size(); ++i) {
    EXPECT_EQ(queues_after[i].waiting, queues_before[i].waiting);
  }
  std::vector<AgentView> agents_after = restored.agents_view();
  ASSERT_EQ(agents_after.size(), agents_before.size());
  for (std::size_t i = 0; i < agents_after.size(); ++i) {
    EXPECT_EQ(agents_after[i].load, agents_before[i].load);
    EXPECT_EQ(agents_after[i].open_offers, agents_before[i].open_offers);
    EXPECT_FALSE(agents_after[i].connected);
  }
  EXPECT_EQ(restored.position("c1")->assigned_agent, "a1");
  EXPECT_EQ(restored.position("c3")->position, router_->position("c3")->position);
  EXPECT_TRUE(restored.agent_reconnected("a1").is_ok());
  EXPECT_TRUE(restored.accept("a1", "c2", open.offer_id).is_ok());
}

TEST_F(RouterTest, RestoreTimesOutOffersThatExpiredDuringDowntime) {
  online("a1");
  SendOffer offer = only_offer(escalate(make_escalation("c1")));
  clock_.advance_ms(120 * kSecond);

  Router restored(make_config(), clock_);
  ASSERT_TRUE(restored.restore(log_, nullptr).is_ok());
  Effects first_tick = restored.tick(clock_.now_ms());

  EXPECT_EQ(event_types(first_tick).front(), "timed_out");
  EXPECT_EQ(error_code(restored.accept("a1", "c1", offer.offer_id).status()), kOfferExpired);
  EXPECT_EQ(error_code(restored.restore(log_, nullptr)), kNotRestorable);
}

TEST_F(RouterTest, CancelWhileWaitingRevokesOffers) {
  online("a1");
  SendOffer offer = only_offer(escalate(make_escalation("c1")));

  Effects cancelled = ok(router_->cancel("c1", "user_left"));

  EXPECT_EQ(all_of<RevokeOffer>(cancelled).front().offer_id, offer.offer_id);
  EXPECT_EQ(event_types(cancelled), (std::vector<std::string>{"revoked", "cancelled"}));
  EXPECT_EQ(agent_view("a1").open_offers, 0);
}

// ---- Timed queue behaviour: overflow, max_wait, business hours --------------------------------

RoutingConfig timed_config() {
  RoutingConfig config = make_config();
  QueueConfig& de = config.queues[0];
  de.max_wait_s = 300;
  OverflowStep widen;
  widen.after_s = 60;
  widen.action = OverflowStep::Action::kWidenSkills;
  widen.skills = {"billing"};
  OverflowStep move;
  move.after_s = 120;
  move.action = OverflowStep::Action::kMoveToQueue;
  move.to_queue = "en";
  de.skills = {"support", "billing"};
  de.overflow = {widen, move};
  return config;
}

class TimedRouterTest : public RouterTest {
 protected:
  TimedRouterTest() : RouterTest(timed_config()) {}
};

TEST_F(TimedRouterTest, OverflowWidensSkillsThenMovesQueue) {
  online("a1", 1, {"support"}, {"de"});
  Effects escalated = escalate(make_escalation("c1"));

  Effects widened = advance(60 * kSecond);
  std::string offered_to = only_offer(widened).agent_id;
  ok(router_->decline(offered_to, "c1", only_offer(widened).offer_id, "busy"));
  Effects moved = advance(60 * kSecond);

  EXPECT_TRUE(all_of<SendOffer>(escalated).empty());
  EXPECT_EQ(event_types(widened).front(), "overflowed");
  EXPECT_EQ(offered_to, "a1");
  ASSERT_FALSE(event_types(moved).empty());
  EXPECT_EQ(all_of<Event>(moved).front().data.at("queue"), "en");
  EXPECT_EQ(router_->position("c1")->queue, "en");
}

// "de" moves its conversations to "vip" after 3 s; "vip" allows 8 s of waiting.
RoutingConfig moving_config() {
  RoutingConfig config = make_config();
  OverflowStep move;
  move.after_s = 3;
  move.action = OverflowStep::Action::kMoveToQueue;
  move.to_queue = "vip";
  config.queues[0].overflow = {move};
  config.queues[2].max_wait_s = 8;
  return config;
}

class MovingRouterTest : public RouterTest {
 protected:
  MovingRouterTest() : RouterTest(moving_config()) {}
};

TEST_F(MovingRouterTest, AMoveToAQueueNobodyServesTellsTheUserAndStartsItsMaxWait) {
  online("a1");  // lacks "retention", which "vip" needs
  only_offer(escalate(make_escalation("c1")));

  Effects moved = advance(3 * kSecond);
  Effects before = advance(7 * kSecond);
  Effects reached = advance(kSecond);
  Effects later = advance(300 * kSecond);

  ASSERT_EQ(all_of<RevokeOffer>(moved).size(), 1u);
  EXPECT_EQ(all_of<RevokeOffer>(moved).front().reason, "overflowed");
  ASSERT_EQ(all_of<NoAgent>(moved).size(), 1u);
  EXPECT_EQ(all_of<NoAgent>(moved).front().queue, "vip");
  EXPECT_EQ(all_of<NoAgent>(moved).front().reason, "no_agent_online");
  EXPECT_TRUE(all_of<NoAgent>(moved).front().queued);
  EXPECT_TRUE(all_of<WaitLimitReached>(before).empty());
  ASSERT_EQ(all_of<WaitLimitReached>(reached).size(), 1u);
  EXPECT_EQ(all_of<WaitLimitReached>(reached).front().queue, "vip");
  EXPECT_EQ(all_of<WaitLimitReached>(reached).front().waited_s, 8);
  EXPECT_TRUE(all_of<WaitLimitReached>(later).empty());
}

TEST_F(TimedRouterTest, TheMaxWaitOfAQueueLeftBehindNoLongerApplies) {
  escalate(make_escalation("c1", "de"));

  // The conversation moved to "en", which has no max_wait, after 120 s.
  Effects waited = advance(600 * kSecond);

  EXPECT_EQ(router_->position("c1")->queue, "en");
  EXPECT_TRUE(all_of<WaitLimitReached>(waited).empty());
}

TEST(RouterHours, OutsideBusinessHoursTheNoAgentPathApplies) {
  Result<RoutingConfig> config = parse_routing_config(
      "queues:\n"
      "  - name: q1\n"
      "    no_agent_path: stay_with_bot\n"
      "    business_hours:\n"
      "      time_zone: America/New_York\n"
      "      mon: [\"09:00-17:00\"]\n",
      "r.yaml");
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  // Monday 2024-01-15 13:00 UTC = 08:00 in New York.
  FakeClock clock(1'705'323'600'000);
  Router router(*config, clock);
  Escalation early = make_escalation("c1", "q1");
  Escalation later = make_escalation("c2", "q1");

  Result<Effects> closed = router.escalate(early);
  clock.advance_ms(3'600'000);
  Result<Effects> open = router.escalate(later);

  ASSERT_TRUE(closed.is_ok());
  std::vector<NoAgent> no_agent = all_of<NoAgent>(*closed);
  ASSERT_EQ(no_agent.size(), 1u);
  EXPECT_EQ(no_agent.front().path, NoAgentPath::kStayWithBot);
  EXPECT_FALSE(no_agent.front().queued);
  EXPECT_FALSE(router.position("c1").is_ok());
  ASSERT_TRUE(open.is_ok());
  EXPECT_EQ(router.position("c2")->position, 1);
}

TEST(RouterScale, EscalationWithManyAgentsAndWaitingConversationsStaysCheap) {
  RoutingConfig config = make_config();
  config.position_update_interval_ms = 2000;
  FakeClock clock;
  Router router(config, clock);
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(router.escalate(make_escalation("w" + std::to_string(i), "en")).is_ok());
  }
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(
        router.agent_online(make_agent("a" + std::to_string(i), 1, {"support"}, {"de"})).is_ok());
  }

  Result<Effects> effects = router.escalate(make_escalation("hot", "de"));

  ASSERT_TRUE(effects.is_ok());
  EXPECT_EQ(all_of<SendOffer>(*effects).size(), 1u);
  EXPECT_EQ(router.queues_view()[1].waiting, 2000);
}

}  // namespace
}  // namespace handover::routing
