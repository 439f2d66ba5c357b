// The trigger engine as the server uses it: the active rules (reloaded on change) and the
// running state of every open conversation.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "handover/triggers/conversation_state.hpp"
#include "handover/triggers/engine.hpp"
#include "handover/triggers/evaluation.hpp"
#include "handover/triggers/rule_set_holder.hpp"
#include "handover/triggers/rule_watcher.hpp"
#include "handover/util/status.hpp"

namespace handover {
class Clock;
}

namespace handover::triggers {

struct TriggerServiceOptions {
  std::filesystem::path rules_path = "config/triggers.yaml";
  std::size_t keep_versions = 5;  // rule set versions kept for rollback
  bool watch = true;              // reload when the rules file changes
  std::chrono::milliseconds debounce{200};
  RuleWatcher::ReloadCallback on_reload;  // told about every reload attempt
};

// Thread-safe. Turns of one conversation are evaluated one at a time; different
// conversations run in parallel (their states live in separately locked shards).
class TriggerService {
 public:
  // Loads the rules (a bad file fails here) and, when options.watch, starts the watcher.
  static Result<std::unique_ptr<TriggerService>> open(TriggerServiceOptions options,
                                                      const Clock& clock);
  ~TriggerService();
  TriggerService(const TriggerService&) = delete;
  TriggerService& operator=(const TriggerService&) = delete;

  // Evaluates `turn` with the conversation's state (a fresh one for a new conversation).
  Evaluation evaluate(std::string_view conversation_id, const ConversationInfo& info,
                      const TurnInput& turn);

  // The kept state of a conversation, if any.
  std::optional<ConversationState> state(std::string_view conversation_id) const;
  // Whether a state is kept for the conversation, without copying it.
  bool has_state(std::string_view conversation_id) const;
  // Replaces a conversation's state, e.g. one rebuilt from its stored turns.
  void restore(std::string_view conversation_id, const ConversationState& state);
  // Drops a conversation's state (closed, erased, or a write that did not commit).
  void forget(std::string_view conversation_id);
  // When the oldest cooldown of a request rule still running in the conversation's kept state
  // started (Engine::request_cooling_since, at the service clock's now), or nullopt when none
  // runs or no state is kept.
  std::optional<std::int64_t> request_cooling_since(std::string_view conversation_id) const;
  // Ends the conversation's request rule cooldowns that started at or before `at_ms`
  // (Engine::end_request_cooldowns). Does nothing when no state is kept.
  void end_request_cooldowns(std::string_view conversation_id, std::int64_t at_ms);
  // Conversations with a kept state.
  std::size_t open_conversations() const;

  RuleSetHolder& rules() { return *holder_; }

 private:
  static constexpr std::size_t kShards = 64;
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view key) const {
      return std::hash<std::string_view>{}(key);
    }
  };
  struct Shard {
    mutable std::mutex mutex;
    // Looked up by string_view without building a key (the hash and equality are transparent).
    std::unordered_map<std::string, ConversationState, KeyHash, std::equal_to<>>
        states;  // guarded by mutex
  };

  TriggerService(std::unique_ptr<RuleSetHolder> holder, const Clock& clock);
  Shard& shard(std::string_view conversation_id) const;

  std::unique_ptr<RuleSetHolder> holder_;
  const Clock& clock_;
  std::unique_ptr<RuleWatcher> watcher_;
  mutable std::array<Shard, kShards> shards_;
};

}  // namespace handover::triggers
