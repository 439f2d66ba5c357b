// Runs corpus conversations through a rule set offline and measures what the rules did.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "handover/replay/corpus.hpp"

namespace handover::triggers {
class RuleSet;
}

namespace handover::replay {

// What the rules did with one conversation. Turns are 1-based positions in the conversation.
struct Outcome {
  std::string id;
  std::size_t turns = 0;   // turns evaluated (up to the escalation, which ends replay)
  int escalated_turn = 0;  // 0: never escalated
  std::string escalated_rule;
  int first_suggest_turn = 0;  // 0: no suggestion
  std::string first_suggest_rule;
  int suggestions = 0;  // turns whose decision was suggest
  std::optional<Label> label;

  // The turn the rules handed over at, counting a suggestion when `count_suggest`.
  int predicted_turn(bool count_suggest) const;
};

// Evaluates conversations like the server would, without a server: user and bot turns in
// order, the conversation with the bot, times from the corpus or 15 s apart. A conversation
// ends at its first escalation, since a person then has it. Thread-safe (const).
class Replayer {
 public:
  static constexpr std::int64_t kTurnSpacingMs = 15'000;
  static constexpr std::int64_t kStartMs = 1'700'000'000'000;

  explicit Replayer(std::shared_ptr<const triggers::RuleSet> rules);

  Outcome run(const ReplayConversation& conversation) const;
  const std::shared_ptr<const triggers::RuleSet>& rules() const { return rules_; }

 private:
  std::shared_ptr<const triggers::RuleSet> rules_;
};

// Precision and recall of conversation-level handover predictions against labels.
struct Confusion {
  std::size_t tp = 0, fp = 0, fn = 0, tn = 0;
  double precision() const;
  double recall() const;
  double f1() const;
  std::size_t labelled() const { return tp + fp + fn + tn; }
};

// How a predicted handover lies against the labelled turn (true positives with a turn).
struct Timing {
  std::size_t early = 0, on_time = 0, late = 0;
  std::vector<int> deltas;  // predicted turn - labelled turn, negative when early
  double mean() const;
  int median() const;
};

// Totals over a replay. Add outcomes in corpus order.
class Summary {
 public:
  explicit Summary(bool count_suggest = false) : count_suggest_(count_suggest) {}

  void add(const Outcome& outcome);

  std::size_t conversations() const { return conversations_; }
  std::size_t turns() const { return turns_; }
  std::size_t escalated() const { return escalated_; }
  std::size_t suggested() const { return suggested_; }
  double handover_rate() const;  // escalated / conversations (with suggestions if counted)
  const std::map<std::string, std::size_t>& escalations_by_rule() const { return by_rule_; }
  const std::map<std::string, std::size_t>& suggestions_by_rule() const { return suggest_by_rule_; }
  const std::map<int, std::size_t>& escalations_by_turn() const { return by_turn_; }
  const Confusion& confusion() const { return confusion_; }
  const Timing& timing() const { return timing_; }
  bool count_suggest() const { return count_suggest_; }

  // {"conversations", "turns", "escalated", "handover_rate", "suggested", "by_rule", ...}.
  nlohmann::json to_json() const;

 private:
  bool count_suggest_;
  std::size_t conversations_ = 0;
  std::size_t turns_ = 0;
  std::size_t escalated_ = 0;
  std::size_t suggested_ = 0;
  std::size_t handed_over_ = 0;
  std::map<std::string, std::size_t> by_rule_;
  std::map<std::string, std::size_t> suggest_by_rule_;
  std::map<int, std::size_t> by_turn_;
  Confusion confusion_;
  Timing timing_;
};

// A conversation whose outcome differs between two rule sets.
struct Change {
  Outcome before;
  Outcome after;
  std::string kind;  // "now_escalates", "no_longer_escalates", "earlier", "later", "other_rule"
};

// The change between two outcomes of the same conversation, nullopt when they agree on the
// escalation (turn and rule).
std::optional<Change> compare_outcomes(const Outcome& before, const Outcome& after);

}  // namespace handover::replay
