// The narrator against a real store and feed: which system messages the user reads, in which
// order, as a conversation waits, is taken, loses its agent and waits again.
#include "handover/messages/narrator.hpp"

#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "handover/api/api.hpp"
#include "handover/feed/feed.hpp"
#include "handover/messages/catalog.hpp"
#include "handover/store/store.hpp"
#include "handover/util/clock.hpp"
#include "support/temp_store.hpp"

namespace handover::messages {
namespace {

using nlohmann::json;

// Keeps the message key of every system turn the narrator posts.
class RecordingPoster final : public api::TurnPoster {
 public:
  void post(api::ServerTurn turn,
            std::function<void(Result<api::ServerTurnResult>)> done) override {
    {
      std::lock_guard lock(mu_);
      keys_.push_back(turn.metadata.value("message", std::string()));
    }
    done(api::ServerTurnResult{1, "queued"});
  }
  std::vector<std::string> keys() {
    std::lock_guard lock(mu_);
    return keys_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> keys_;
};

class NarratorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::make_temp_dir("narrator");
    ASSERT_FALSE(dir_.empty());
    auto opened = testing::open_store_in(dir_, clock_);
    ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
    store_ = std::move(opened).value();
    hub_ = std::make_unique<feed::Hub>(*store_);
    store::ConversationRecord record;
    record.id = kConversation;
    record.channel = "web";
    record.language = "en";
    record.token_hash = "h";
    ASSERT_TRUE(wait([&](auto done) { store_->create_conversation(record, std::move(done)); }));
    narrator_ = std::make_unique<Narrator>(
        NarratorDeps{poster_, *store_, Catalog::built_in(), nullptr, nullptr, clock_});
    ASSERT_TRUE(narrator_->start(*hub_).is_ok());
  }
  void TearDown() override {
    narrator_.reset();
    hub_.reset();
    store_.reset();
    testing::remove_temp_dir(dir_);
  }

  template <class Start>
  bool wait(Start start) {
    std::promise<bool> done;
    start([&done](auto result) { done.set_value(result.is_ok()); });
    return done.get_future().get();
  }

  void stored(const std::string& type, const json& data) {
    store::EventRecord record;
    record.conversation_id = kConversation;
    record.type = type;
    record.data_json = data.dump();
    ASSERT_TRUE(wait([&](auto done) { store_->append_events({record}, std::move(done)); }));
    settle();
  }
  void routing(const std::string& type) {
    stored("routing." + type, {{"agent_id", "anna"}, {"at_ms", clock_.now_ms()}, {"data", {}}});
  }
  void position(int place) {
    feed::Event event;
    event.type = feed::kQueuePosition;
    event.conversation_id = kConversation;
    event.data = {{"position", place}, {"estimated_wait_s", 60}, {"queue", "general"}};
    hub_->publish_transient(std::move(event));
    settle();
  }
  void settle() {
    hub_->drain_for_test();
    narrator_->drain_for_test();
  }

  static constexpr const char* kConversation = "c_narrated";
  FakeClock clock_;
  std::string dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<feed::Hub> hub_;
  RecordingPoster poster_;
  std::unique_ptr<Narrator> narrator_;
};

TEST_F(NarratorTest, AUserWhoseAgentIsLostReadsThatFirstAndNoPlaceFromTheEarlierWait) {
  stored("handover.escalated", {{"queue", "general"}, {"reasons", {{"source", "api"}}}});
  position(5);
  clock_.advance_ms(61'000);
  position(3);  // a better place, a minute after the announcement: told
  routing("accepted");
  clock_.advance_ms(61'000);
  position(2);  // the queue place the requeue publishes before its own event
  routing("requeued");
  position(4);
  clock_.advance_ms(61'000);
  position(1);  // a better place in the new wait: told

  EXPECT_EQ(poster_.keys(),
            (std::vector<std::string>{"handover.announce", "handover.waiting", "agent.joined",
                                      "handover.requeued", "handover.waiting"}));
}

TEST_F(NarratorTest, AUserWhoseWaitAnAdminEndedIsToldTheBotCarriesOn) {
  stored("handover.escalated", {{"queue", "general"}, {"reasons", {{"source", "api"}}}});
  stored("routing.cancelled",
         {{"at_ms", clock_.now_ms()}, {"data", {{"reason", "ended_by_admin"}}}});

  EXPECT_EQ(poster_.keys(),
            (std::vector<std::string>{"handover.announce", "no_agent.stay_with_bot"}));
}

}  // namespace
}  // namespace handover::messages
