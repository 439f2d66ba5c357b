// Scores each posted turn with the trigger engine and submits its store write while the
// conversation is locked, so evaluations and stored seq numbers follow the same order.
#pragma once

#include <array>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "handover/metrics/registry.hpp"
#include "handover/store/store.hpp"
#include "handover/triggers/evaluation.hpp"

namespace handover::triggers {
class TriggerService;
}

namespace handover::api {

// The decision taken on one turn, as the intake acts on it after the commit.
struct Verdict {
  triggers::DecisionKind kind = triggers::DecisionKind::kNone;
  std::string rule_id;
  // The rule whose suggestion the user said yes to ("" when none); it gave queue and skills.
  std::string suggested_by;
  std::string queue;
  std::vector<std::string> skills;
  int priority = 0;
  // The fired rules with their checks and evidence, as JSON text; parse with reasons().
  std::string fired_json = "[]";

  // Parsed when an escalation needs them, not for every turn.
  nlohmann::json reasons() const { return nlohmann::json::parse(fired_json); }
};

using IntakeCallback = std::function<void(Result<store::AppendTurnOutcome>, const Verdict&)>;
// Asked once per evaluated turn; what it returns (possibly nothing) becomes the append's
// follow-up, which may add writes to the turn's transaction.
using FollowUpFor = std::function<store::AppendFollowUpFn(const Verdict&)>;

class TurnIntake {
 public:
  // All must outlive the intake. `fired` (rule, suppressed) counts each rule that fired on a
  // live turn, shadow rules included, so a rule can be tuned before it acts; may be null.
  TurnIntake(triggers::TriggerService& triggers, store::Store& store,
             metrics::Family<metrics::Counter>* fired = nullptr);

  // Rebuilds the conversation's engine state from its stored turns when none is kept, ends
  // the request rule cooldowns a return to the bot has made obsolete, evaluates
  // `request.turn`, stores the evaluation with it and submits the append.
  // `done` runs on the store's writer thread after the commit. Thread-safe.
  void submit(const store::ConversationRecord& conversation, store::AppendTurnRequest request,
              IntakeCallback done, const FollowUpFor& follow_up_for = {});

 private:
  static constexpr std::size_t kStripes = 128;
  std::mutex& stripe(const std::string& conversation_id);
  Status rebuild(const store::ConversationRecord& conversation);
  void end_cooldowns_before_return(const store::ConversationRecord& conversation);

  void count_fired(const triggers::Evaluation& evaluation);

  triggers::TriggerService& triggers_;
  store::Store& store_;
  metrics::Family<metrics::Counter>* fired_;
  // The family's counters by rule id, one per suppression kind, found without building the
  // labels for each fired rule of each turn.
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using FiredCounters = std::array<metrics::Counter*, 4>;  // by triggers::Suppression
  std::mutex fired_mu_;
  std::unordered_map<std::string, FiredCounters, StringHash, std::equal_to<>> fired_counters_;
  std::array<std::mutex, kStripes> stripes_;
};

}  // namespace handover::api
