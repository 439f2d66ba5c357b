// The table of expression fields: name, type and how to read it from the turn's signals.
#include "fields.hpp"

#include <algorithm>
#include <array>
#include <vector>

#include "handover/util/text.hpp"

namespace handover::triggers {
namespace {

using F = SignalFamily;
using T = ValueType;

FieldValue num(double v) { return {v, {}}; }
FieldValue flag(bool v) { return {v ? 1.0 : 0.0, {}}; }
FieldValue str(std::string_view v) { return {0.0, v}; }

#define HANDOVER_FIELD(name, type, family, expr)                                \
  FieldDef {                                                                    \
    name, type, family, [](const FieldSource& s) -> FieldValue { return expr; } \
  }

const std::array kFields = {
    HANDOVER_FIELD("turn.role", T::kString, std::nullopt, str(s.signals.role)),
    HANDOVER_FIELD("turns.user", T::kNumber, std::nullopt, num(s.signals.turns_user)),
    HANDOVER_FIELD("turns.bot", T::kNumber, std::nullopt, num(s.signals.turns_bot)),
    HANDOVER_FIELD("turns.total", T::kNumber, std::nullopt, num(s.signals.turns_total)),
    HANDOVER_FIELD("language", T::kString, F::kAmbiguity, str(s.signals.language)),
    HANDOVER_FIELD("language.supported", T::kBool, F::kAmbiguity,
                   flag(s.signals.language_supported)),
    HANDOVER_FIELD("conversation.state", T::kString, std::nullopt, str(s.info.state)),
    HANDOVER_FIELD("customer.tier", T::kString, F::kValue, str(s.info.customer_tier)),
    HANDOVER_FIELD("customer.lifetime_value", T::kNumber, F::kValue,
                   num(s.info.lifetime_value.value_or(0.0))),
    HANDOVER_FIELD("sentiment.scored", T::kBool, F::kSentiment, flag(s.signals.sentiment.scored)),
    HANDOVER_FIELD("sentiment.score", T::kNumber, F::kSentiment, num(s.signals.sentiment.score)),
    HANDOVER_FIELD("sentiment.mean", T::kNumber, F::kSentiment, num(s.signals.sentiment.mean)),
    HANDOVER_FIELD("sentiment.start", T::kNumber, F::kSentiment, num(s.signals.sentiment.start)),
    HANDOVER_FIELD("sentiment.drop", T::kNumber, F::kSentiment, num(s.signals.sentiment.drop)),
    HANDOVER_FIELD("sentiment.min", T::kNumber, F::kSentiment, num(s.signals.sentiment.min)),
    HANDOVER_FIELD("anger.score", T::kNumber, F::kAnger, num(s.signals.anger.score)),
    HANDOVER_FIELD("anger.insult", T::kBool, F::kAnger, flag(s.signals.anger.insult)),
    HANDOVER_FIELD("anger.cue", T::kBool, F::kAnger, flag(s.signals.anger.cue)),
    HANDOVER_FIELD("anger.shouting", T::kBool, F::kAnger, flag(s.signals.anger.shouting)),
    HANDOVER_FIELD("anger.count", T::kNumber, F::kAnger, num(s.signals.anger.count)),
    HANDOVER_FIELD("risk.legal", T::kBool, F::kRisk, flag(s.signals.risk.legal)),
    HANDOVER_FIELD("risk.public_complaint", T::kBool, F::kRisk,
                   flag(s.signals.risk.public_complaint)),
    HANDOVER_FIELD("risk.churn", T::kBool, F::kRisk, flag(s.signals.risk.churn)),
    HANDOVER_FIELD("risk.count", T::kNumber, F::kRisk, num(s.signals.risk.count)),
    HANDOVER_FIELD("uncertainty.confidence", T::kNumber, F::kUncertainty,
                   num(s.signals.uncertainty.confidence)),
    HANDOVER_FIELD("uncertainty.score", T::kNumber, F::kUncertainty,
                   num(s.signals.uncertainty.score)),
    HANDOVER_FIELD("uncertainty.fallback", T::kBool, F::kUncertainty,
                   flag(s.signals.uncertainty.fallback)),
    HANDOVER_FIELD("uncertainty.hedge", T::kBool, F::kUncertainty,
                   flag(s.signals.uncertainty.hedge)),
    HANDOVER_FIELD("uncertainty.bot_handover", T::kBool, F::kUncertainty,
                   flag(s.signals.uncertainty.bot_handover)),
    HANDOVER_FIELD("uncertainty.bot_unreachable", T::kBool, F::kUncertainty,
                   flag(s.signals.uncertainty.bot_unreachable)),
    HANDOVER_FIELD("uncertainty.low_streak", T::kNumber, F::kUncertainty,
                   num(s.signals.uncertainty.low_streak)),
    HANDOVER_FIELD("uncertainty.fallbacks", T::kNumber, F::kUncertainty,
                   num(s.signals.uncertainty.fallbacks)),
    HANDOVER_FIELD("request.human", T::kBool, F::kRequest, flag(s.signals.request.human)),
    HANDOVER_FIELD("request.declined", T::kBool, F::kRequest, flag(s.signals.request.declined)),
    HANDOVER_FIELD("request.offer_pending", T::kBool, F::kRequest,
                   flag(s.signals.request.offer_pending)),
    HANDOVER_FIELD("request.count", T::kNumber, F::kRequest, num(s.signals.request.count)),
    HANDOVER_FIELD("complexity.score", T::kNumber, F::kComplexity, num(s.signals.complexity.score)),
    HANDOVER_FIELD("complexity.topics", T::kNumber, F::kComplexity,
                   num(s.signals.complexity.topics)),
    HANDOVER_FIELD("complexity.questions", T::kNumber, F::kComplexity,
                   num(s.signals.complexity.questions)),
    HANDOVER_FIELD("complexity.words", T::kNumber, F::kComplexity, num(s.signals.complexity.words)),
    HANDOVER_FIELD("complexity.no_progress", T::kNumber, F::kComplexity,
                   num(s.signals.complexity.no_progress)),
    HANDOVER_FIELD("complexity.repeats", T::kNumber, F::kComplexity,
                   num(s.signals.complexity.repeats)),
    HANDOVER_FIELD("complexity.repeated", T::kBool, F::kComplexity,
                   flag(s.signals.complexity.repeated)),
    HANDOVER_FIELD("value.score", T::kNumber, F::kValue, num(s.signals.value.score)),
    HANDOVER_FIELD("value.order", T::kNumber, F::kValue, num(s.signals.value.order)),
    HANDOVER_FIELD("value.lifetime", T::kNumber, F::kValue, num(s.signals.value.lifetime)),
    HANDOVER_FIELD("value.purchase", T::kBool, F::kValue, flag(s.signals.value.purchase)),
    HANDOVER_FIELD("value.upgrade", T::kBool, F::kValue, flag(s.signals.value.upgrade)),
    HANDOVER_FIELD("value.cancel", T::kBool, F::kValue, flag(s.signals.value.cancel)),
    HANDOVER_FIELD("ambiguity.score", T::kNumber, F::kAmbiguity, num(s.signals.ambiguity.score)),
    HANDOVER_FIELD("ambiguity.unknown_share", T::kNumber, F::kAmbiguity,
                   num(s.signals.ambiguity.unknown_share)),
    HANDOVER_FIELD("ambiguity.short", T::kBool, F::kAmbiguity,
                   flag(s.signals.ambiguity.short_text)),
    HANDOVER_FIELD("ambiguity.vague", T::kBool, F::kAmbiguity, flag(s.signals.ambiguity.vague)),
};

#undef HANDOVER_FIELD

}  // namespace

const char* value_type_name(ValueType type) {
  switch (type) {
    case ValueType::kNumber:
      return "number";
    case ValueType::kString:
      return "string";
    case ValueType::kBool:
      return "bool";
    case ValueType::kNumberList:
      return "list of numbers";
    case ValueType::kStringList:
      return "list of strings";
  }
  return "?";
}

std::span<const FieldDef> field_defs() { return kFields; }

int find_field(std::string_view name) {
  for (std::size_t i = 0; i < kFields.size(); ++i) {
    if (kFields[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

std::string_view closest_field(std::string_view name) {
  std::string_view best;
  std::size_t best_distance = 4;
  for (const FieldDef& field : kFields) {
    const std::size_t d = text::edit_distance(name, field.name);
    if (d < best_distance) {
      best_distance = d;
      best = field.name;
    }
  }
  return best;
}

}  // namespace handover::triggers
