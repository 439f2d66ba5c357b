// JSON form of an Evaluation, stored with the turn and returned by the API.
#include <bit>

#include <nlohmann/json.hpp>

#include "handover/triggers/evaluation.hpp"
#include "handover/util/clock.hpp"

namespace handover::triggers {
namespace {

using nlohmann::json;

json signals_json(const Signals& s) {
  const auto& u = s.uncertainty;
  return {
      {"role", s.role},
      {"language", s.language},
      {"language_supported", s.language_supported},
      {"turns", {{"user", s.turns_user}, {"bot", s.turns_bot}, {"total", s.turns_total}}},
      {"sentiment",
       {{"scored", s.sentiment.scored},
        {"score", s.sentiment.score},
        {"mean", s.sentiment.mean},
        {"start", s.sentiment.start},
        {"drop", s.sentiment.drop},
        {"min", s.sentiment.min}}},
      {"anger",
       {{"score", s.anger.score},
        {"insult", s.anger.insult},
        {"cue", s.anger.cue},
        {"shouting", s.anger.shouting},
        {"count", s.anger.count}}},
      {"risk",
       {{"legal", s.risk.legal},
        {"public_complaint", s.risk.public_complaint},
        {"churn", s.risk.churn},
        {"count", s.risk.count}}},
      {"uncertainty",
       {{"confidence", u.confidence},
        {"score", u.score},
        {"fallback", u.fallback},
        {"hedge", u.hedge},
        {"bot_handover", u.bot_handover},
        {"bot_unreachable", u.bot_unreachable},
        {"low_streak", u.low_streak},
        {"fallbacks", u.fallbacks}}},
      {"request",
       {{"human", s.request.human},
        {"declined", s.request.declined},
        {"offer_pending", s.request.offer_pending},
        {"count", s.request.count}}},
      {"complexity",
       {{"score", s.complexity.score},
        {"topics", s.complexity.topics},
        {"questions", s.complexity.questions},
        {"words", s.complexity.words},
        {"no_progress", s.complexity.no_progress},
        {"repeats", s.complexity.repeats},
        {"repeated", s.complexity.repeated}}},
      {"value",
       {{"score", s.value.score},
        {"order", s.value.order},
        {"lifetime", s.value.lifetime},
        {"purchase", s.value.purchase},
        {"upgrade", s.value.upgrade},
        {"cancel", s.value.cancel}}},
      {"ambiguity",
       {{"score", s.ambiguity.score},
        {"unknown_share", s.ambiguity.unknown_share},
        {"short", s.ambiguity.short_text},
        {"vague", s.ambiguity.vague}}},
  };
}

json evidence_json(const Evidence& e) {
  return {{"family", family_name(e.family)}, {"cue", e.cue}, {"text", e.text}};
}

json fired_json(const FiredRule& fired, const Signals& signals) {
  json checks = json::array();
  for (const Check& check : fired.checks) {
    json value = check.is_string ? json(check.string) : json(check.number);
    checks.push_back(
        {{"expression", check.text}, {"field", check.field}, {"value", std::move(value)}});
  }
  json evidence = json::array();
  for (const Evidence& e : signals.evidence) {
    if ((fired.families >> static_cast<unsigned>(e.family)) & 1U)
      evidence.push_back(evidence_json(e));
  }
  const Rule& rule = *fired.rule;
  return {{"id", rule.id},
          {"action", action_name(rule.action)},
          {"mode", rule_mode_name(rule.mode)},
          {"priority", rule.priority},
          {"suppressed", suppression_name(fired.suppressed)},
          {"checks", std::move(checks)},
          {"evidence", std::move(evidence)}};
}

json decision_json(const Decision& decision) {
  json out = {{"action", decision_kind_name(decision.kind)}};
  if (decision.rule == nullptr) return out;
  out["rule"] = decision.rule->id;
  out["queue"] = decision.rule->queue;
  out["skills"] = decision.rule->skills;
  out["priority"] = decision.rule->priority;
  return out;
}

}  // namespace

const char* family_name(SignalFamily family) {
  switch (family) {
    case SignalFamily::kSentiment:
      return "sentiment";
    case SignalFamily::kAnger:
      return "anger";
    case SignalFamily::kRisk:
      return "risk";
    case SignalFamily::kUncertainty:
      return "uncertainty";
    case SignalFamily::kRequest:
      return "request";
    case SignalFamily::kComplexity:
      return "complexity";
    case SignalFamily::kValue:
      return "value";
    case SignalFamily::kAmbiguity:
      return "ambiguity";
  }
  return "?";
}

const char* decision_kind_name(DecisionKind kind) {
  switch (kind) {
    case DecisionKind::kNone:
      return "none";
    case DecisionKind::kSuggest:
      return "suggest";
    case DecisionKind::kEscalate:
      return "escalate";
  }
  return "?";
}

const char* suppression_name(Suppression suppression) {
  switch (suppression) {
    case Suppression::kNone:
      return "none";
    case Suppression::kShadow:
      return "shadow";
    case Suppression::kCooldown:
      return "cooldown";
    case Suppression::kWithHuman:
      return "with_human";
  }
  return "?";
}

json to_json(const Evaluation& evaluation) {
  json fired = json::array();
  for (const FiredRule& rule : evaluation.fired)
    fired.push_back(fired_json(rule, evaluation.signals));
  json evidence = json::array();
  for (const Evidence& e : evaluation.signals.evidence) evidence.push_back(evidence_json(e));
  json out = {{"signals", signals_json(evaluation.signals)},
              {"evidence", std::move(evidence)},
              {"fired", std::move(fired)},
              {"decision", decision_json(evaluation.decision)}};
  if (evaluation.rule_set != nullptr) {
    const RuleSetVersion& version = evaluation.rule_set->version();
    out["rule_set"] = {{"hash", version.hash},
                       {"loaded_at", format_rfc3339_ms(version.loaded_at_ms)}};
  }
  if (evaluation.bot_handover_reason) out["bot_handover_reason"] = *evaluation.bot_handover_reason;
  return out;
}

}  // namespace handover::triggers
