// The trigger service: per-conversation states, restore, forget, and parallel conversations.
#include "handover/triggers/trigger_service.hpp"

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "handover/util/clock.hpp"
#include "trigger_test_support.hpp"

namespace handover::triggers {
namespace {

std::unique_ptr<TriggerService> open_product_service(const Clock& clock) {
  TriggerServiceOptions options;
  options.rules_path = testing::source_dir() / "config" / "triggers.yaml";
  options.watch = false;
  auto opened = TriggerService::open(options, clock);
  EXPECT_TRUE(opened.is_ok()) << opened.status().to_string();
  return opened.is_ok() ? std::move(opened).value() : nullptr;
}

TurnInput user_turn(std::string_view text) {
  TurnInput turn;
  turn.role = "user";
  turn.text = text;
  return turn;
}

TEST(TriggerService, KeepsOneStatePerConversation) {
  FakeClock clock;
  auto service = open_product_service(clock);
  ASSERT_NE(service, nullptr);
  const ConversationInfo info;

  service->evaluate("c1", info, user_turn("This is bad"));
  const Evaluation second = service->evaluate("c1", info, user_turn("This is terrible"));
  const Evaluation other = service->evaluate("c2", info, user_turn("This is terrible"));

  EXPECT_EQ(second.signals.turns_user, 2);
  EXPECT_EQ(second.decision.kind, DecisionKind::kEscalate);
  EXPECT_EQ(other.signals.turns_user, 1);
  EXPECT_EQ(service->open_conversations(), 2U);
}

TEST(TriggerService, RestoresAndForgetsStates) {
  FakeClock clock;
  auto service = open_product_service(clock);
  ASSERT_NE(service, nullptr);
  const ConversationInfo info;
  service->evaluate("c1", info, user_turn("hello"));
  const ConversationState saved = *service->state("c1");

  EXPECT_TRUE(service->has_state("c1"));
  EXPECT_FALSE(service->has_state("c2"));
  service->forget("c1");
  const bool gone = !service->state("c1").has_value();
  EXPECT_FALSE(service->has_state("c1"));
  service->forget("c1");  // forgetting what is not kept is harmless
  service->restore("c1", saved);
  EXPECT_TRUE(service->has_state("c1"));
  const Evaluation next = service->evaluate("c1", info, user_turn("still there?"));

  EXPECT_TRUE(gone);
  EXPECT_EQ(next.signals.turns_user, 2);
}

TEST(TriggerService, EndsTheRequestCooldownsStartedBeforeAReturnToTheBot) {
  FakeClock clock;
  auto service = open_product_service(clock);
  ASSERT_NE(service, nullptr);
  const ConversationInfo info;
  const Evaluation first = service->evaluate("c1", info, user_turn("I want a human"));
  const std::int64_t escalated_ms = clock.now_ms();
  clock.advance_ms(30'000);
  const std::optional<std::int64_t> cooling = service->request_cooling_since("c1");

  service->end_request_cooldowns("c1", clock.now_ms());
  clock.advance_ms(1'000);
  const std::optional<std::int64_t> after_end = service->request_cooling_since("c1");
  const Evaluation again = service->evaluate("c1", info, user_turn("a human, please"));

  EXPECT_EQ(first.decision.kind, DecisionKind::kEscalate);
  EXPECT_EQ(cooling, escalated_ms);
  EXPECT_FALSE(after_end.has_value());
  EXPECT_EQ(again.decision.kind, DecisionKind::kEscalate);
  EXPECT_FALSE(service->request_cooling_since("unknown").has_value());
}

TEST(TriggerService, ReloadsThroughItsRuleHolder) {
  FakeClock clock;
  testing::TempDir dir;
  dir.write("triggers.yaml", testing::rules_file(testing::kOneRule));
  TriggerServiceOptions options;
  options.rules_path = dir.path() / "triggers.yaml";
  options.watch = false;
  auto opened = TriggerService::open(options, clock);
  ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
  const std::string before = opened.value()->rules().current()->version().hash;

  dir.write("triggers.yaml",
            testing::rules_file(std::string(testing::kOneRule) + "    cooldown: 5s\n"));
  const Status reloaded = opened.value()->rules().reload().status();

  EXPECT_TRUE(reloaded.is_ok());
  EXPECT_NE(opened.value()->rules().current()->version().hash, before);
}

TEST(TriggerService, FailsToOpenWithBadRules) {
  FakeClock clock;
  testing::TempDir dir;
  dir.write("triggers.yaml", "version: 1\nrules: [\n");
  TriggerServiceOptions options;
  options.rules_path = dir.path() / "triggers.yaml";

  auto opened = TriggerService::open(options, clock);

  EXPECT_FALSE(opened.is_ok());
}

TEST(TriggerService, EvaluatesConversationsFromManyThreads) {
  FakeClock clock;
  auto service = open_product_service(clock);
  ASSERT_NE(service, nullptr);
  const ConversationInfo info;
  constexpr int kThreads = 4;
  constexpr int kTurns = 200;

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&service, &info, t] {
      const std::string id = "c" + std::to_string(t);
      for (int i = 0; i < kTurns; ++i) service->evaluate(id, info, user_turn("where is my parcel"));
    });
  }
  for (std::thread& thread : threads) thread.join();

  for (int t = 0; t < kThreads; ++t) {
    const auto state = service->state("c" + std::to_string(t));
    ASSERT_TRUE(state.has_value());
    EXPECT_EQ(state->turns_user, static_cast<std::uint32_t>(kTurns));
  }
}

}  // namespace
}  // namespace handover::triggers
