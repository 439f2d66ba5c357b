// Holds the active rule set, swaps in reloads atomically and keeps old versions for rollback.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "handover/triggers/engine.hpp"
#include "handover/triggers/rule_set.hpp"
#include "handover/util/status.hpp"

namespace handover {
class Clock;
}

namespace handover::triggers {

// What GET /v1/admin/rules shows.
struct ReloadStatus {
  RuleSetVersion active;
  std::optional<std::string> last_error;  // the last failed reload's errors, cleared on success
  std::int64_t last_error_at_ms = 0;
  std::uint64_t reloads_ok = 0;
  std::uint64_t reloads_failed = 0;
  std::vector<RuleSetVersion> history;  // oldest first, the active one included
  std::vector<std::string> warnings;    // the active set's (RuleSet::warnings)
};

// {"active": {"hash", "loaded_at", "path"}, "last_error": string or null, "last_error_at",
// "reloads_ok", "reloads_failed", "history": [...], "warnings": [...]}, times as RFC 3339, for
// GET /v1/admin/rules.
nlohmann::json to_json(const ReloadStatus& status);

// What a reload that succeeded did.
struct ReloadOutcome {
  std::string previous_hash;          // the active version before the reload
  std::string hash;                   // the active version after it
  bool changed = false;               // a new version became active
  std::vector<std::string> warnings;  // the read set's (RuleSet::warnings)
};

// Thread-safe: current() and engine() are lock-free reads; reload() and rollback() serialise
// among themselves. Turns evaluated during a swap finish on the set they started with.
class RuleSetHolder {
 public:
  // Loads `path` once; fails (with load_rule_set's error) when the first load fails, so bad
  // config stops start-up. `clock` must outlive the holder. Keeps the last `keep` versions.
  static Result<std::unique_ptr<RuleSetHolder>> open(std::filesystem::path path, const Clock& clock,
                                                     std::size_t keep = 5);

  // Re-reads the file. On success makes it active (an unchanged hash is not a new version)
  // and says what changed; on failure keeps the active set, records the error and returns it.
  // Blocks for as long as reading and compiling take: call it off network threads.
  Result<ReloadOutcome> reload();

  // Like reload(), but a file whose content is what the last reload read leaves the active
  // set alone: the file watcher uses it, so a change already reloaded by hand (and perhaps
  // rolled back since) is not applied a second time.
  Result<ReloadOutcome> reload_if_changed();

  // Told about every reload attempt, from the thread that made it (e.g. to log the outcome
  // once for the watcher, SIGHUP and the admin API alike), after the reload took effect.
  using ReloadListener = std::function<void(const Result<ReloadOutcome>&)>;
  void set_reload_listener(ReloadListener listener);

  // A check every reloaded set must also pass before it becomes active, for what the rules
  // file cannot know by itself (e.g. that each rule's queue is defined in the routing
  // configuration); its error counts as the reload's. The first load in open() is not checked.
  using ReloadCheck = std::function<Status(const RuleSet&)>;
  void set_reload_check(ReloadCheck check);

  // Makes the kept version with this hash active again; "" means the one before the active.
  // kNotFound when no such version is kept.
  Status rollback(std::string_view hash);

  std::shared_ptr<const RuleSet> current() const { return active_.load(); }
  Engine engine() const { return Engine(current()); }
  ReloadStatus status() const;
  const std::filesystem::path& path() const { return path_; }

 private:
  Result<ReloadOutcome> reload_file(bool only_if_changed);
  Result<ReloadOutcome> reload_locked(Result<std::shared_ptr<const RuleSet>> loaded,
                                      bool only_if_changed);
  RuleSetHolder(std::filesystem::path path, const Clock& clock, std::size_t keep);
  void activate_locked(std::shared_ptr<const RuleSet> rule_set);

  std::filesystem::path path_;
  const Clock& clock_;
  std::size_t keep_;
  std::atomic<std::shared_ptr<const RuleSet>> active_;
  mutable std::mutex mutex_;
  std::deque<std::shared_ptr<const RuleSet>> history_;  // guarded by mutex_
  ReloadStatus status_;                                 // guarded by mutex_
  ReloadCheck check_;                                   // guarded by mutex_
  ReloadListener listener_;                             // guarded by mutex_
  std::string file_hash_;  // hash of what the file held at the last load; guarded by mutex_
};

}  // namespace handover::triggers
