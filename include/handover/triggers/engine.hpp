// The trigger engine's entry point: evaluate one turn against a rule set.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "handover/triggers/conversation_state.hpp"
#include "handover/triggers/evaluation.hpp"
#include "handover/triggers/rule_set.hpp"

namespace handover::triggers {

struct FieldValue;

// One turn as the engine sees it. Views must outlive the call (and the Evaluation's views).
struct TurnInput {
  std::string_view role;  // "user", "bot", "agent" or "system"; only user and bot are scored
  std::string_view text;
  std::optional<double> bot_confidence;            // bot.confidence, 0..1
  bool bot_fallback = false;                       // bot.fallback
  std::string_view bot_intent;                     // bot.intent, "" when absent
  std::optional<std::string> bot_handover_reason;  // present when the bot proposes a handover
  bool bot_unreachable = false;  // bot.unreachable: the server could not reach the channel's bot
  const nlohmann::json* metadata = nullptr;        // turn metadata (order or cart value)
};

// What the server knows about the conversation and the customer.
struct ConversationInfo {
  std::string_view language;       // override, e.g. "de"; "" to detect per turn
  std::string_view state = "bot";  // anything but "bot" means a person already has it
  std::string_view customer_tier;
  std::optional<double> lifetime_value;
};

// Evaluates turns against one immutable RuleSet. Cheap to copy; const methods are safe to
// call from many threads at once.
class Engine {
 public:
  explicit Engine(std::shared_ptr<const RuleSet> rule_set);

  // Computes every signal for `turn`, updates `state` (which only one thread may touch at a
  // time), evaluates every rule and picks the decision: the highest-priority active escalate
  // rule that fired, else the highest-priority active suggest rule, unless the conversation is
  // already with a person or the rule is cooling down. Never fails: text that is empty, too
  // long or invalid UTF-8 is scored as well as it can be.
  Evaluation evaluate(const ConversationInfo& info, ConversationState& state, const TurnInput& turn,
                      std::int64_t now_ms) const;

  // Request rules are the rules of this rule set that read a request.* field: what a user's own
  // ask for a person sets off. When the oldest of their cooldowns still running at `now_ms`
  // started in `state`, or nullopt when none runs.
  std::optional<std::int64_t> request_cooling_since(const ConversationState& state,
                                                    std::int64_t now_ms) const;
  // Ends the cooldowns of the request rules that started at or before `at_ms`, so they may act
  // again at once; other rules, and later actions, keep theirs.
  void end_request_cooldowns(ConversationState& state, std::int64_t at_ms) const;

  const std::shared_ptr<const RuleSet>& rule_set() const { return rule_set_; }

 private:
  void fire_rules(const ConversationInfo& info, ConversationState& state, const FieldValue* values,
                  std::int64_t now_ms, Evaluation& evaluation) const;
  void decide(ConversationState& state, std::int64_t now_ms, Evaluation& evaluation) const;

  std::shared_ptr<const RuleSet> rule_set_;
};

}  // namespace handover::triggers
