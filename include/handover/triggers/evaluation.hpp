// The outcome of evaluating one turn: signals, fired rules with evidence, and the decision.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "handover/triggers/rule_set.hpp"
#include "handover/triggers/signals.hpp"

namespace handover::triggers {

enum class DecisionKind : std::uint8_t { kNone, kSuggest, kEscalate };

// Why a rule that matched did not act.
enum class Suppression : std::uint8_t {
  kNone,       // it acted (or lost to a stronger rule)
  kShadow,     // shadow mode: recorded only
  kCooldown,   // it acted too recently in this conversation
  kWithHuman,  // the conversation is already with a person
};

const char* decision_kind_name(DecisionKind kind);
const char* suppression_name(Suppression suppression);

// One comparison of a fired rule, with the value the field had: "sentiment.mean <= -0.5".
struct Check {
  std::string_view text;   // the comparison's source text, inside the RuleSet
  std::string_view field;  // the dotted field name
  bool is_string = false;
  double number = 0.0;      // the field's value (bools as 0/1) when !is_string
  std::string_view string;  // the field's value when is_string
};

struct FiredRule {
  const Rule* rule = nullptr;  // owned by Evaluation::rule_set
  Suppression suppressed = Suppression::kNone;
  std::vector<Check> checks;
  std::uint32_t families = 0;  // bit per SignalFamily the expression reads
};

struct Decision {
  DecisionKind kind = DecisionKind::kNone;
  const Rule* rule = nullptr;  // the rule that decided; gives the priority
  // Set when the user said yes to the bot's offer of a person that this rule's suggestion
  // led to: the handover goes to its queue with its skills, not the deciding rule's.
  const Rule* suggested_by = nullptr;

  // The rule whose queue and skills route the handover (null when nothing was decided).
  const Rule* routing() const { return suggested_by != nullptr ? suggested_by : rule; }
};

// Views inside point into rule_set, or into the TurnInput and ConversationInfo passed to
// Engine::evaluate; convert with to_json before those go away.
struct Evaluation {
  std::shared_ptr<const RuleSet> rule_set;
  Signals signals;
  std::vector<FiredRule> fired;
  Decision decision;
  std::optional<std::string> bot_handover_reason;  // kept from a bot turn's bot.handover
};

// A self-contained JSON document (no views) for storing with the turn and returning to API
// clients: signals, evidence, fired rules with checks, rule set version and decision. Its
// members are in sorted order, as nlohmann's dump() writes them. When `fired` is given, it
// gets the document's "fired" array, as fired_text() would write it.
std::string evaluation_text(const Evaluation& evaluation, std::string* fired = nullptr);
// The document's "fired" array alone.
std::string fired_text(const Evaluation& evaluation);
// evaluation_text() parsed, for callers that work on the tree.
nlohmann::json to_json(const Evaluation& evaluation);

}  // namespace handover::triggers
