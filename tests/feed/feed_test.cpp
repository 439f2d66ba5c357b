// The public event feed over a real store: mapping, order, filters, unsubscribing, history.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <optional>

#include "handover/feed/feed.hpp"
#include "handover/util/clock.hpp"

namespace handover::feed {
namespace {

using nlohmann::json;

class FeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::path(::testing::TempDir()) / "feed_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    store::StoreOptions options;
    options.path = (dir_ / "feed.db").string();
    auto opened = store::Store::open(options, clock_);
    ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
    store_ = std::move(opened).value();
    hub_ = std::make_unique<Hub>(*store_);
  }
  void TearDown() override {
    hub_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  template <class T>
  static T wait(std::function<void(store::Callback<T>)> submit) {
    std::promise<Result<T>> promise;
    submit([&promise](Result<T> r) { promise.set_value(std::move(r)); });
    Result<T> result = promise.get_future().get();
    EXPECT_TRUE(result.is_ok()) << result.status().to_string();
    return result.is_ok() ? std::move(result).value() : T{};
  }

  void create(const std::string& id) {
    store::ConversationRecord record;
    record.id = id;
    record.state = "bot";
    wait<store::ConversationRecord>(
        [&](auto done) { store_->create_conversation(record, std::move(done)); });
  }

  store::AppendTurnOutcome turn(const std::string& id, const std::string& role,
                                const std::string& text, std::string evaluation = "") {
    store::AppendTurnRequest request;
    request.turn.conversation_id = id;
    request.turn.role = role;
    request.turn.text = text;
    request.turn.evaluation_json = std::move(evaluation);
    return wait<store::AppendTurnOutcome>(
        [&](auto done) { store_->append_turn(request, std::move(done)); });
  }

  void events(std::vector<store::EventRecord> records) {
    wait<std::vector<store::EventRecord>>(
        [&](auto done) { store_->append_events(records, std::move(done)); });
  }

  static store::EventRecord record(const std::string& conversation, const std::string& type,
                                   const json& data) {
    store::EventRecord r;
    r.conversation_id = conversation;
    r.type = type;
    r.data_json = data.dump();
    return r;
  }

  // Collects what a subscription receives.
  struct Seen {
    std::mutex mu;
    std::vector<Event> events;
    Hub::Listener listener() {
      return [this](const Event& e) {
        std::lock_guard lock(mu);
        events.push_back(e);
      };
    }
    std::vector<std::string> types() {
      std::lock_guard lock(mu);
      std::vector<std::string> out;
      for (const auto& e : events) out.push_back(e.type);
      return out;
    }
  };

  FakeClock clock_{1'700'000'000'000};
  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Hub> hub_;
};

TEST_F(FeedTest, TurnsArriveInCommitOrderWithTheTurnAndState) {
  create("c_1");
  Seen seen;
  auto subscription = hub_->subscribe("", seen.listener());

  turn("c_1", "user", "Hallo", R"({"rules":["r1"]})");
  turn("c_1", "bot", "Guten Tag");
  hub_->drain_for_test();

  ASSERT_EQ(seen.types(), (std::vector<std::string>{kTurnCreated, kTurnCreated}));
  const Event& first = seen.events[0];
  EXPECT_GT(first.id, 0);
  EXPECT_LT(first.id, seen.events[1].id);
  EXPECT_EQ(first.conversation_id, "c_1");
  EXPECT_EQ(view(first, Audience::kIntegration)["turn"]["text"], "Hallo");
  EXPECT_EQ(view(first, Audience::kIntegration)["turn"]["seq"], 1);
  EXPECT_EQ(first.data["state"], "bot");
  // The turn is rendered only for those who view it, with the trigger evaluation (parsed
  // only then) for integrations.
  EXPECT_FALSE(first.data.contains("turn"));
  ASSERT_NE(first.turn, nullptr);
  EXPECT_EQ(first.turn->text, "Hallo");
  EXPECT_EQ(view(first, Audience::kIntegration)["turn"]["evaluation"]["rules"][0], "r1");
  // The customer never sees the trigger evaluation.
  EXPECT_FALSE(view(first, Audience::kCustomer)["turn"].contains("evaluation"));
  EXPECT_EQ(view(first, Audience::kCustomer)["turn"]["text"], "Hallo");
}

// The state comes from the record's own top-level "state"; a record that is not a JSON
// object, or has no turn, stands for no public event.
TEST(TurnCreatedRecordTest, TakesTheTopLevelStateAndRefusesWhatIsNotAnObject) {
  auto turn = std::make_shared<const store::TurnRecord>();
  store::EventRecord record;
  record.id = 7;
  record.type = store::kTurnCreatedEvent;
  record.conversation_id = "c_1";
  record.data_json = R"({"seq":3,"meta":{"state":"nested"},"list":[{"state":"x"}],)"
                     R"("role":"user","state":"queued"})";
  std::optional<Event> event = to_public(record, turn);
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->id, 7);
  EXPECT_EQ(event->type, kTurnCreated);
  EXPECT_EQ(event->data, json({{"state", "queued"}}));
  EXPECT_EQ(event->turn, turn);

  record.data_json = R"({"seq":3,"state":5})";
  ASSERT_TRUE(to_public(record, turn).has_value());
  EXPECT_EQ(to_public(record, turn)->data, json({{"state", ""}}));
  for (const char* bad : {"", "[]", "\"bot\"", R"({"state":"bot")", R"({"state":"bot"} x)"}) {
    record.data_json = bad;
    EXPECT_FALSE(to_public(record, turn).has_value()) << bad;
  }
  record.data_json = R"({"state":"bot"})";
  EXPECT_FALSE(to_public(record, nullptr).has_value());
}

// The parser skips the snapshot at the top level only; members of that name deeper down are
// data like any other.
TEST(EscalationRecordTest, KeepsItsRoutingFieldsAndSkipsOnlyTheTopLevelSnapshot) {
  store::EventRecord record;
  record.id = 9;
  record.type = "handover.escalated";
  record.conversation_id = "c_1";
  record.data_json = R"({"snapshot":{"queue":"wrong","snapshot":1},"queue":"general",)"
                     R"("priority":5,"reasons":[{"snapshot":"kept"}],"skills":["billing"]})";
  std::optional<Event> event = to_public(record, nullptr);
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->type, kHandoverRequested);
  EXPECT_EQ(event->data, json({{"queue", "general"},
                               {"priority", 5},
                               {"reasons", {{{"snapshot", "kept"}}}},
                               {"skills", {"billing"}},
                               {"state", "queued"}}));
  record.data_json = R"({"snapshot":{"queue":"wrong"})";
  EXPECT_FALSE(to_public(record, nullptr).has_value());
}

TEST_F(FeedTest, CustomersSeeMetadataOnlyOnSystemTurns) {
  create("c_1");
  Seen seen;
  auto subscription = hub_->subscribe("c_1", seen.listener());
  for (const char* role : {"bot", "system"}) {
    store::AppendTurnRequest request;
    request.turn.conversation_id = "c_1";
    request.turn.role = role;
    request.turn.text = "x";
    request.turn.metadata_json = R"({"internal_note":"VIP"})";
    wait<store::AppendTurnOutcome>(
        [&](auto done) { store_->append_turn(request, std::move(done)); });
  }
  hub_->drain_for_test();

  ASSERT_EQ(seen.events.size(), 2u);
  EXPECT_FALSE(view(seen.events[0], Audience::kCustomer)["turn"].contains("metadata"));
  EXPECT_TRUE(view(seen.events[0], Audience::kIntegration)["turn"].contains("metadata"));
  EXPECT_EQ(view(seen.events[1], Audience::kCustomer)["turn"]["metadata"]["internal_note"], "VIP");
}

TEST_F(FeedTest, ConversationSubscriptionsSeeOnlyTheirConversation) {
  create("c_1");
  create("c_2");
  Seen one;
  Seen all;
  auto a = hub_->subscribe("c_1", one.listener());
  auto b = hub_->subscribe("", all.listener());

  turn("c_2", "user", "other");
  turn("c_1", "user", "mine");
  hub_->drain_for_test();

  ASSERT_EQ(one.events.size(), 1u);
  EXPECT_EQ(view(one.events[0], Audience::kIntegration)["turn"]["text"], "mine");
  EXPECT_EQ(all.events.size(), 2u);
}

TEST_F(FeedTest, NothingArrivesAfterUnsubscribing) {
  create("c_1");
  Seen seen;
  auto subscription = hub_->subscribe("c_1", seen.listener());
  turn("c_1", "user", "one");
  hub_->drain_for_test();
  subscription.reset();
  turn("c_1", "user", "two");
  hub_->drain_for_test();

  ASSERT_EQ(seen.events.size(), 1u);
  EXPECT_EQ(view(seen.events[0], Audience::kIntegration)["turn"]["text"], "one");
}

TEST_F(FeedTest, EndedConversationsTellTheirSubscribersOnceAndSendNothingMore) {
  create("c_1");
  create("c_2");
  Seen one, other, all;
  std::atomic<int> one_ended{0};
  std::atomic<int> other_ended{0};
  auto a = hub_->subscribe("c_1", one.listener(), [&] { ++one_ended; });
  auto b = hub_->subscribe("c_2", other.listener(), [&] { ++other_ended; });
  auto c = hub_->subscribe("", all.listener());
  turn("c_1", "user", "before");

  hub_->end_conversations({"c_1"});
  hub_->end_conversations({"c_1"});
  turn("c_1", "user", "after");
  turn("c_2", "user", "still here");
  hub_->drain_for_test();

  EXPECT_EQ(one_ended.load(), 1);
  EXPECT_EQ(one.types(), std::vector<std::string>{"turn.created"});
  EXPECT_EQ(other_ended.load(), 0);
  EXPECT_EQ(other.types(), std::vector<std::string>{"turn.created"});
  EXPECT_EQ(all.types().size(), 3u);
}

TEST_F(FeedTest, RoutingRecordsBecomePublicEventsAndInternalsStayOut) {
  create("c_1");
  Seen seen;
  auto subscription = hub_->subscribe("c_1", seen.listener());
  events({
      record("c_1", "handover.escalated",
             {{"queue", "general"}, {"priority", 5}, {"snapshot", {{"big", true}}}}),
      record("c_1", "routing.offered",
             {{"agent_id", "a_1"}, {"at_ms", 1}, {"data", json::object()}}),
      record("c_1", "agent.offer", {{"offer_id", 1}}),
      record(
          "c_1", "routing.resolved",
          {{"agent_id", "a_1"},
           {"at_ms", 2},
           {"data", {{"justified", "no"}, {"note", "internal note"}, {"cooldown_until_ms", 9}}}}),
  });
  hub_->drain_for_test();

  ASSERT_EQ(seen.types(), (std::vector<std::string>{kHandoverRequested, kHandoverResolved}));
  const Event& requested = seen.events[0];
  EXPECT_EQ(requested.data["queue"], "general");
  EXPECT_EQ(requested.data["state"], "queued");
  EXPECT_FALSE(requested.data.contains("snapshot"));
  const Event& resolved = seen.events[1];
  EXPECT_EQ(resolved.data["justified"], "no");
  EXPECT_EQ(resolved.data["agent"]["id"], "a_1");
  EXPECT_FALSE(resolved.data.contains("cooldown_until_ms"));
  EXPECT_EQ(resolved.data["state"], "bot");
  const json customer = view(resolved, Audience::kCustomer);
  EXPECT_FALSE(customer.contains("note"));
  EXPECT_FALSE(customer.contains("justified"));
  EXPECT_EQ(customer["state"], "bot");
}

TEST_F(FeedTest, HistoryResumesAfterACursorWithTurnsAndSkipsInternals) {
  create("c_1");
  turn("c_1", "user", "first");
  events({record("c_1", "agent.offer", {{"offer_id", 1}})});
  turn("c_1", "bot", "second");
  turn("c_1", "user", "third");

  auto all = hub_->history("c_1", 0, 100);
  ASSERT_TRUE(all.is_ok()) << all.status().to_string();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ(view((*all)[1], Audience::kIntegration)["turn"]["text"], "second");

  auto rest = hub_->history("c_1", (*all)[0].id, 100);
  ASSERT_TRUE(rest.is_ok());
  ASSERT_EQ(rest->size(), 2u);
  EXPECT_EQ(view((*rest)[0], Audience::kIntegration)["turn"]["text"], "second");
  EXPECT_EQ(view((*rest)[1], Audience::kIntegration)["turn"]["text"], "third");

  auto limited = hub_->history("c_1", 0, 1);
  ASSERT_TRUE(limited.is_ok());
  ASSERT_EQ(limited->size(), 1u);
  EXPECT_EQ(view((*limited)[0], Audience::kIntegration)["turn"]["text"], "first");
}

TEST_F(FeedTest, TransientEventsCarryNoId) {
  Seen seen;
  auto subscription = hub_->subscribe("c_9", seen.listener());
  Event position;
  position.type = kQueuePosition;
  position.conversation_id = "c_9";
  position.data = {{"position", 2}, {"estimated_wait_s", 60}};
  hub_->publish_transient(position);
  hub_->drain_for_test();

  ASSERT_EQ(seen.events.size(), 1u);
  EXPECT_TRUE(seen.events[0].transient());
  EXPECT_EQ(view(seen.events[0], Audience::kCustomer)["position"], 2);
}

}  // namespace
}  // namespace handover::feed
