// The retention job against a real store with a fake clock: what is due goes, in batches,
// while intake keeps writing; runs are counted in the metrics.
#include "handover/privacy/retention.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "handover/metrics/registry.hpp"
#include "handover/store/store.hpp"
#include "handover/util/clock.hpp"
#include "support/temp_store.hpp"

namespace handover::privacy {
namespace {

constexpr std::int64_t kDayMs = 86400 * 1000;

template <class T>
Result<T> wait(const std::function<void(store::Callback<T>)>& submit) {
  auto promise = std::make_shared<std::promise<Result<T>>>();
  auto future = promise->get_future();
  submit([promise](Result<T> r) { promise->set_value(std::move(r)); });
  return future.get();
}

class RetentionJobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::make_temp_dir("ret");
    ASSERT_FALSE(dir_.empty());
    auto opened = testing::open_store_in(dir_, clock_);
    ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
    store_ = std::move(opened).value();
    config_.turns_s = 30 * 86400;
    config_.conversations_s = 0;
    config_.batch_size = 10;
  }
  void TearDown() override {
    store_.reset();
    testing::remove_temp_dir(dir_);
  }

  void create(const std::string& id) {
    store::ConversationRecord record;
    record.id = id;
    record.channel = "web";
    record.language = "de";
    record.token_hash = "t";
    ASSERT_TRUE(wait<store::ConversationRecord>([&](auto done) {
                  store_->create_conversation(record, std::move(done));
                }).is_ok());
  }
  Status turn(const std::string& id, const std::string& text) {
    store::AppendTurnRequest request;
    request.turn.conversation_id = id;
    request.turn.role = "user";
    request.turn.text = text;
    request.turn.content_hash = text;
    auto done = wait<store::AppendTurnOutcome>(
        [&](auto callback) { store_->append_turn(request, std::move(callback)); });
    return done.status();
  }
  std::size_t turns_of(const std::string& id) {
    auto turns = store_->list_turns(id, 0, 100000);
    return turns.is_ok() ? turns->size() : 0;
  }

  std::string dir_;
  FakeClock clock_;
  metrics::Registry registry_;
  RetentionConfig config_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(RetentionJobTest, DeletesExactlyWhatIsDueWhileIntakeRuns) {
  create("c_old");
  create("c_live");
  for (int i = 0; i < 95; ++i) ASSERT_TRUE(turn("c_old", "old " + std::to_string(i)).is_ok());
  clock_.advance_ms(31 * kDayMs);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(turn("c_old", "recent " + std::to_string(i)).is_ok());
  RetentionJob job(*store_, config_, clock_, registry_);

  std::atomic<bool> running{true};
  std::atomic<int> written{0};
  std::thread intake([&] {
    while (running.load() || written.load() < 50) {
      if (turn("c_live", "live " + std::to_string(written.load())).is_ok()) ++written;
    }
  });
  RetentionReport report = job.run_once();
  running = false;
  intake.join();

  ASSERT_TRUE(report.status.is_ok()) << report.status.to_string();
  EXPECT_EQ(report.rows.at("turns"), 95);
  EXPECT_GE(report.batches, 10);
  EXPECT_EQ(turns_of("c_old"), 5u);
  EXPECT_EQ(turns_of("c_live"), static_cast<std::size_t>(written.load()));
  EXPECT_NE(registry_.render().find("handover_retention_deleted_total{class=\"turns\"} 95"),
            std::string::npos)
      << registry_.render();
  EXPECT_NE(registry_.render().find("handover_retention_runs_total 1"), std::string::npos);
}

TEST_F(RetentionJobTest, KeepsClassesWithoutAPeriodAndTellsWhichConversationsWent) {
  config_.turns_s = 0;
  config_.conversations_s = 86400;
  create("c_idle");
  ASSERT_TRUE(turn("c_idle", "hallo").is_ok());
  clock_.advance_ms(2 * kDayMs);
  create("c_new");
  std::vector<std::string> told;
  RetentionJob job(*store_, config_, clock_, registry_,
                   [&](const RetentionReport& report) { told = report.deleted_conversations; });

  RetentionReport report = job.run_once();

  EXPECT_EQ(report.rows.count("turns"), 0u);
  EXPECT_EQ(report.rows.at("conversations"), 1);
  EXPECT_EQ(told, std::vector<std::string>{"c_idle"});
  EXPECT_TRUE(store_->get_conversation("c_new").is_ok());
}

TEST_F(RetentionJobTest, TextsCopiedIntoEventsGoByTheTurnsPeriodNotTheEvents) {
  config_.events_s = 365 * 86400;
  create("c_old");
  store::EventRecord relayed;
  relayed.conversation_id = "c_old";
  relayed.agent_id = "a_1";
  relayed.type = "agent.turn";
  relayed.data_json = R"({"conversation_id":"c_old","turn":{"seq":1,"text":"Herr X"}})";
  ASSERT_TRUE(wait<std::vector<store::EventRecord>>([&](auto done) {
                store_->append_events({relayed}, std::move(done));
              }).is_ok());
  clock_.advance_ms(31 * kDayMs);
  RetentionJob job(*store_, config_, clock_, registry_);

  RetentionReport report = job.run_once();

  ASSERT_TRUE(report.status.is_ok()) << report.status.to_string();
  EXPECT_EQ(report.rows.at("event_texts"), 1);
  store::EventQuery query;
  query.conversation_id = "c_old";
  auto events = store_->list_events(query);
  ASSERT_TRUE(events.is_ok());
  ASSERT_EQ(events->size(), 1u) << "the event stays for the events' period";
  EXPECT_EQ(events->at(0).data_json.find("Herr X"), std::string::npos);
}

TEST_F(RetentionJobTest, StopEndsARunAfterTheBatchInFlight) {
  create("c_old");
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(turn("c_old", "old " + std::to_string(i)).is_ok());
  clock_.advance_ms(31 * kDayMs);
  RetentionJob job(*store_, config_, clock_, registry_);
  // The test blocks the store's writer in a callback on purpose, so the run's first batch
  // waits in the queue until the stop has been asked for.
  std::promise<void> blocked;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  store_->probe_writable([&blocked, released](Result<bool>) {
    blocked.set_value();
    released.wait();
  });
  blocked.get_future().wait();
  job.start();
  for (int i = 0; i < 5000 && store_->stats().queue_depth == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(store_->stats().queue_depth, 1u);

  std::thread stopper([&job] { job.stop(); });
  // run_async refuses at once, on this thread, when stop() has marked the job as stopping;
  // asked earlier, it is answered only later (by stop()), hence the shared flag.
  auto refused = std::make_shared<std::atomic<bool>>(false);
  for (int i = 0; i < 5000 && !refused->load(); ++i) {
    job.run_async([refused](const RetentionReport& r) {
      if (!r.status.is_ok()) *refused = true;
    });
    if (!refused->load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  release.set_value();
  stopper.join();

  EXPECT_TRUE(refused->load());
  EXPECT_EQ(turns_of("c_old"), 90u);
  EXPECT_NE(registry_.render().find("handover_retention_deleted_total{class=\"turns\"} 10"),
            std::string::npos)
      << registry_.render();
}

TEST_F(RetentionJobTest, RunsOnRequestOnlyWhileStarted) {
  RetentionJob job(*store_, config_, clock_, registry_);
  std::promise<Status> before;
  job.run_async([&](const RetentionReport& r) { before.set_value(r.status); });
  EXPECT_EQ(before.get_future().get().code(), StatusCode::kUnavailable);

  job.start();
  std::promise<Status> asked;
  job.run_async([&](const RetentionReport& r) { asked.set_value(r.status); });
  Status status = asked.get_future().get();
  job.stop();

  EXPECT_TRUE(status.is_ok()) << status.to_string();
}

}  // namespace
}  // namespace handover::privacy
