// Reloading, rollback and watching of the rules file.
#include "handover/triggers/rule_set_holder.hpp"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "handover/triggers/rule_watcher.hpp"
#include "handover/util/clock.hpp"
#include "trigger_test_support.hpp"

namespace handover::triggers {
namespace {

using testing::kOneRule;
using testing::rules_file;
using testing::TempDir;

const std::string kRulesV1 = rules_file(kOneRule);
const std::string kRulesV2 = rules_file(std::string(kOneRule) + "    cooldown: 1m\n");
const std::string kInvalid = rules_file("  - id: broken\n    action: suggest\n    when: nope\n");

class RuleReload : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.write("triggers.yaml", kRulesV1);
    auto opened = RuleSetHolder::open(path(), clock_, 3);
    ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
    holder_ = std::move(opened).value();
    v1_ = holder_->current()->version().hash;
  }

  std::filesystem::path path() const { return dir_.path() / "triggers.yaml"; }

  // Writes to a temporary name and renames it over the rules file, as editors do.
  void replace_by_rename(const std::string& content) {
    dir_.write("triggers.yaml.tmp", content);
    std::filesystem::rename(dir_.path() / "triggers.yaml.tmp", path());
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<RuleSetHolder> holder_;
  std::string v1_;
};

TEST_F(RuleReload, ValidChangeBecomesActive) {
  dir_.write("triggers.yaml", kRulesV2);
  clock_.advance_ms(5000);

  const Status status = holder_->reload().status();

  ASSERT_TRUE(status.is_ok()) << status.to_string();
  EXPECT_NE(holder_->current()->version().hash, v1_);
  EXPECT_EQ(holder_->current()->version().loaded_at_ms, clock_.now_ms());
  EXPECT_EQ(holder_->status().history.size(), 2U);
  EXPECT_EQ(holder_->status().reloads_ok, 2U);
}

TEST_F(RuleReload, UnchangedFileIsNotANewVersion) {
  const Status status = holder_->reload().status();

  EXPECT_TRUE(status.is_ok());
  EXPECT_EQ(holder_->current()->version().hash, v1_);
  EXPECT_EQ(holder_->status().history.size(), 1U);
}

TEST_F(RuleReload, InvalidFileKeepsThePreviousRulesAndRecordsTheError) {
  dir_.write("triggers.yaml", kInvalid);
  clock_.advance_ms(1000);

  const Status failed = holder_->reload().status();
  const ReloadStatus after_failure = holder_->status();
  dir_.write("triggers.yaml", kRulesV2);
  const Status fixed = holder_->reload().status();

  EXPECT_FALSE(failed.is_ok());
  EXPECT_EQ(after_failure.active.hash, v1_);
  ASSERT_TRUE(after_failure.last_error.has_value());
  EXPECT_NE(after_failure.last_error->find("unknown field 'nope'"), std::string::npos);
  EXPECT_EQ(after_failure.last_error_at_ms, clock_.now_ms());
  EXPECT_EQ(after_failure.reloads_failed, 1U);
  EXPECT_TRUE(fixed.is_ok());
  EXPECT_FALSE(holder_->status().last_error.has_value());
  const nlohmann::json json = to_json(after_failure);
  EXPECT_EQ(json["active"]["hash"], v1_);
  EXPECT_TRUE(json["last_error"].is_string());
  EXPECT_EQ(json["reloads_failed"], 1);
}

// What the file cannot know by itself (the server checks each rule's queue against the
// routing configuration) fails a reload like a parse error would.
TEST_F(RuleReload, AFailedReloadCheckKeepsThePreviousRules) {
  bool accept = false;
  holder_->set_reload_check([&accept](const RuleSet& rules) {
    return accept ? Status::ok()
                  : Status::invalid_argument("rule '" + rules.rules().front().id +
                                             "': queue 'nosuch' is not defined");
  });
  dir_.write("triggers.yaml", kRulesV2);

  const Status refused = holder_->reload().status();
  const ReloadStatus after_refusal = holder_->status();
  accept = true;
  const Status taken = holder_->reload().status();

  EXPECT_FALSE(refused.is_ok());
  EXPECT_EQ(after_refusal.active.hash, v1_);
  ASSERT_TRUE(after_refusal.last_error.has_value());
  EXPECT_NE(after_refusal.last_error->find("queue 'nosuch'"), std::string::npos);
  EXPECT_EQ(after_refusal.reloads_failed, 1U);
  EXPECT_TRUE(taken.is_ok()) << taken.to_string();
  EXPECT_NE(holder_->current()->version().hash, v1_);
}

TEST_F(RuleReload, SaysWhichVersionWasReplacedAndWhenNothingChanged) {
  dir_.write("triggers.yaml", kRulesV2);

  const Result<ReloadOutcome> changed = holder_->reload();
  const Result<ReloadOutcome> unchanged = holder_->reload();

  ASSERT_TRUE(changed.is_ok() && unchanged.is_ok());
  EXPECT_TRUE(changed->changed);
  EXPECT_EQ(changed->previous_hash, v1_);
  EXPECT_EQ(changed->hash, holder_->current()->version().hash);
  EXPECT_NE(changed->hash, v1_);
  EXPECT_FALSE(unchanged->changed);
  EXPECT_EQ(unchanged->previous_hash, changed->hash);
  EXPECT_EQ(unchanged->hash, changed->hash);
}

TEST_F(RuleReload, TellsTheListenerAboutEveryAttempt) {
  std::vector<bool> heard;
  holder_->set_reload_listener(
      [&heard](const Result<ReloadOutcome>& outcome) { heard.push_back(outcome.is_ok()); });
  dir_.write("triggers.yaml", kInvalid);
  (void)holder_->reload();
  dir_.write("triggers.yaml", kRulesV2);

  (void)holder_->reload_if_changed();

  EXPECT_EQ(heard, (std::vector<bool>{false, true}));
}

// A Latin-1 file quoted in an error must not make GET /v1/admin/rules fail to serialise.
TEST_F(RuleReload, ALastErrorQuotingLatin1BytesSerialisesAsJson) {
  dir_.write("triggers.yaml", "versi\xf6n: 1\n" + kRulesV1.substr(11));

  const Status failed = holder_->reload().status();
  const nlohmann::json json = to_json(holder_->status());

  EXPECT_FALSE(failed.is_ok());
  std::string text;
  EXPECT_NO_THROW(text = json.dump());
  EXPECT_NE(text.find("unknown key 'versi\\\\xf6n'"), std::string::npos) << text;
}

TEST_F(RuleReload, StatusCarriesTheActiveSetsWarnings) {
  dir_.write("triggers.yaml", rules_file("  []\n"));

  const Result<ReloadOutcome> reloaded = holder_->reload();
  const ReloadStatus status = holder_->status();

  ASSERT_TRUE(reloaded.is_ok()) << reloaded.status().to_string();
  ASSERT_EQ(reloaded->warnings.size(), 1U);
  EXPECT_NE(reloaded->warnings[0].find("no active rules"), std::string::npos);
  EXPECT_EQ(status.warnings, reloaded->warnings);
  EXPECT_EQ(to_json(status)["warnings"].size(), 1U);
  ASSERT_TRUE(holder_->rollback("").is_ok());
  EXPECT_TRUE(holder_->status().warnings.empty());
}

TEST_F(RuleReload, HalfWrittenFileIsRejectedUntilComplete) {
  dir_.write("triggers.yaml", kRulesV2.substr(0, kRulesV2.find("request.human") + 9));

  const Status half = holder_->reload().status();
  const std::string active_after_half = holder_->current()->version().hash;
  dir_.write("triggers.yaml", kRulesV2);
  const Status complete = holder_->reload().status();

  EXPECT_FALSE(half.is_ok());
  EXPECT_EQ(active_after_half, v1_);
  EXPECT_TRUE(complete.is_ok());
  EXPECT_NE(holder_->current()->version().hash, v1_);
}

TEST_F(RuleReload, DeletedFileKeepsRulesAndRecreatedFileLoads) {
  std::filesystem::remove(path());

  const Status deleted = holder_->reload().status();
  dir_.write("triggers.yaml", kRulesV2);
  const Status recreated = holder_->reload().status();

  EXPECT_EQ(deleted.code(), StatusCode::kNotFound);
  EXPECT_TRUE(recreated.is_ok());
  EXPECT_NE(holder_->current()->version().hash, v1_);
}

TEST_F(RuleReload, FileRenamedOverTheOldOneLoads) {
  replace_by_rename(kRulesV2);

  const Status status = holder_->reload().status();

  EXPECT_TRUE(status.is_ok());
  EXPECT_EQ(holder_->current()->rules()[0].cooldown_ms, 60'000);
}

TEST_F(RuleReload, EvaluationsInFlightKeepTheirRuleSet) {
  const Engine before = holder_->engine();

  replace_by_rename(kRulesV2);
  ASSERT_TRUE(holder_->reload().is_ok());

  EXPECT_EQ(before.rule_set()->version().hash, v1_);
  EXPECT_EQ(before.rule_set()->rules()[0].cooldown_ms, 0);
}

TEST_F(RuleReload, RollbackReturnsToAKeptVersion) {
  dir_.write("triggers.yaml", kRulesV2);
  ASSERT_TRUE(holder_->reload().is_ok());
  const std::string v2 = holder_->current()->version().hash;

  const Status back = holder_->rollback("");
  const std::string after_back = holder_->current()->version().hash;
  const Status forward = holder_->rollback(v2);
  const Status unknown = holder_->rollback("0123456789abcdef");

  EXPECT_TRUE(back.is_ok());
  EXPECT_EQ(after_back, v1_);
  EXPECT_TRUE(forward.is_ok());
  EXPECT_EQ(holder_->current()->version().hash, v2);
  EXPECT_EQ(unknown.code(), StatusCode::kNotFound);
}

TEST_F(RuleReload, TheWatchersReloadDoesNotUndoARollbackOfAnUnchangedFile) {
  dir_.write("triggers.yaml", kRulesV2);
  ASSERT_TRUE(holder_->reload().is_ok());
  const std::string v2 = holder_->current()->version().hash;
  ASSERT_TRUE(holder_->rollback(v1_).is_ok());

  // The watcher's event for the write above arrives late: the file still holds v2.
  ASSERT_TRUE(holder_->reload_if_changed().is_ok());
  EXPECT_EQ(holder_->current()->version().hash, v1_);

  // A new edit is applied, and an explicit reload always re-reads the file.
  dir_.write("triggers.yaml", rules_file(std::string(kOneRule) + "    cooldown: 7s\n"));
  ASSERT_TRUE(holder_->reload_if_changed().is_ok());
  const std::string v3 = holder_->current()->version().hash;
  EXPECT_NE(v3, v1_);
  EXPECT_NE(v3, v2);
  ASSERT_TRUE(holder_->rollback(v1_).is_ok());
  ASSERT_TRUE(holder_->reload().is_ok());
  EXPECT_EQ(holder_->current()->version().hash, v3);
}

TEST_F(RuleReload, KeepsOnlyTheLastVersions) {
  for (int i = 1; i <= 4; ++i) {
    dir_.write("triggers.yaml",
               rules_file(std::string(kOneRule) + "    cooldown: " + std::to_string(i) + "s\n"));
    ASSERT_TRUE(holder_->reload().is_ok());
  }

  const ReloadStatus status = holder_->status();

  EXPECT_EQ(status.history.size(), 3U);
  EXPECT_EQ(status.history.back().hash, status.active.hash);
  EXPECT_FALSE(holder_->rollback(v1_).is_ok());
}

TEST(RuleSetHolder, OpenFailsOnAnInvalidFile) {
  TempDir dir;
  dir.write("triggers.yaml", kInvalid);
  FakeClock clock;

  auto opened = RuleSetHolder::open(dir.path() / "triggers.yaml", clock);

  EXPECT_FALSE(opened.is_ok());
}

// Waits (bounded) until `done` holds; the watcher runs on its own thread.
template <class Predicate>
bool eventually(Predicate done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

TEST_F(RuleReload, WatcherReloadsOnRenameAndKeepsRulesOnInvalidWrites) {
  std::atomic<int> failures{0};
  RuleWatcher watcher(*holder_, std::chrono::milliseconds(20), [&](const Status& status) {
    if (!status.is_ok()) ++failures;
  });
  ASSERT_TRUE(watcher.start().is_ok());

  replace_by_rename(kRulesV2);
  const bool reloaded = eventually([&] { return holder_->current()->version().hash != v1_; });
  const std::string v2 = holder_->current()->version().hash;
  dir_.write("triggers.yaml", kInvalid);
  const bool failed = eventually([&] { return holder_->status().last_error.has_value(); });
  watcher.stop();

  EXPECT_TRUE(reloaded);
  EXPECT_TRUE(failed);
  EXPECT_EQ(holder_->current()->version().hash, v2);
  EXPECT_GE(watcher.reload_attempts(), 2U);
  EXPECT_GE(failures.load(), 1);
}

TEST_F(RuleReload, WatcherSurvivesDeleteAndRecreate) {
  RuleWatcher watcher(*holder_, std::chrono::milliseconds(20));
  ASSERT_TRUE(watcher.start().is_ok());

  std::filesystem::remove(path());
  const bool noticed = eventually([&] { return holder_->status().last_error.has_value(); });
  const std::string after_delete = holder_->current()->version().hash;
  dir_.write("triggers.yaml", kRulesV2);
  const bool reloaded = eventually([&] { return holder_->current()->version().hash != v1_; });
  watcher.stop();

  EXPECT_TRUE(noticed);
  EXPECT_EQ(after_delete, v1_);
  EXPECT_TRUE(reloaded);
  EXPECT_FALSE(holder_->status().last_error.has_value());
}

TEST(RuleWatcher, FollowsASwappedSymlink) {
  TempDir dir;
  std::filesystem::create_directory(dir.path() / "v1");
  std::filesystem::create_directory(dir.path() / "v2");
  dir.write("v1/triggers.yaml", kRulesV1);
  dir.write("v2/triggers.yaml", kRulesV2);
  std::filesystem::create_symlink("v1/triggers.yaml", dir.path() / "triggers.yaml");
  FakeClock clock;
  auto holder = RuleSetHolder::open(dir.path() / "triggers.yaml", clock);
  ASSERT_TRUE(holder.is_ok());
  const std::string v1 = holder.value()->current()->version().hash;
  RuleWatcher watcher(*holder.value(), std::chrono::milliseconds(20));
  ASSERT_TRUE(watcher.start().is_ok());

  std::filesystem::create_symlink("v2/triggers.yaml", dir.path() / "triggers.yaml.new");
  std::filesystem::rename(dir.path() / "triggers.yaml.new", dir.path() / "triggers.yaml");
  const bool swapped = eventually([&] { return holder.value()->current()->version().hash != v1; });
  watcher.stop();

  EXPECT_TRUE(swapped);
  EXPECT_EQ(holder.value()->current()->rules()[0].cooldown_ms, 60'000);
}

}  // namespace
}  // namespace handover::triggers
