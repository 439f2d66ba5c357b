// JSON text of an Evaluation, stored with the turn and returned by the API.
#include <bit>

#include <nlohmann/json.hpp>

#include "handover/triggers/evaluation.hpp"
#include "handover/util/json_writer.hpp"

namespace handover::triggers {
namespace {

using json_util::JsonWriter;

// Members are written in sorted order, as a dump() of the same nlohmann tree would be, so
// the stored text is the same whichever way it was made.
void write_signals(JsonWriter& w, const Signals& s) {
  const auto& u = s.uncertainty;
  w.begin_object();
  w.key("ambiguity").begin_object();
  w.key("score").number(s.ambiguity.score);
  w.key("short").boolean(s.ambiguity.short_text);
  w.key("unknown_share").number(s.ambiguity.unknown_share);
  w.key("vague").boolean(s.ambiguity.vague);
  w.end_object();
  w.key("anger").begin_object();
  w.key("count").number(s.anger.count);
  w.key("cue").boolean(s.anger.cue);
  w.key("insult").boolean(s.anger.insult);
  w.key("score").number(s.anger.score);
  w.key("shouting").boolean(s.anger.shouting);
  w.end_object();
  w.key("complexity").begin_object();
  w.key("no_progress").number(s.complexity.no_progress);
  w.key("questions").number(s.complexity.questions);
  w.key("repeated").boolean(s.complexity.repeated);
  w.key("repeats").number(s.complexity.repeats);
  w.key("score").number(s.complexity.score);
  w.key("topics").number(s.complexity.topics);
  w.key("words").number(s.complexity.words);
  w.end_object();
  w.key("language").string(s.language);
  w.key("language_supported").boolean(s.language_supported);
  w.key("request").begin_object();
  w.key("count").number(s.request.count);
  w.key("declined").boolean(s.request.declined);
  w.key("human").boolean(s.request.human);
  w.key("offer_pending").boolean(s.request.offer_pending);
  w.end_object();
  w.key("risk").begin_object();
  w.key("churn").boolean(s.risk.churn);
  w.key("count").number(s.risk.count);
  w.key("legal").boolean(s.risk.legal);
  w.key("public_complaint").boolean(s.risk.public_complaint);
  w.end_object();
  w.key("role").string(s.role);
  w.key("sentiment").begin_object();
  w.key("drop").number(s.sentiment.drop);
  w.key("mean").number(s.sentiment.mean);
  w.key("min").number(s.sentiment.min);
  w.key("score").number(s.sentiment.score);
  w.key("scored").boolean(s.sentiment.scored);
  w.key("start").number(s.sentiment.start);
  w.end_object();
  w.key("turns").begin_object();
  w.key("bot").number(s.turns_bot);
  w.key("total").number(s.turns_total);
  w.key("user").number(s.turns_user);
  w.end_object();
  w.key("uncertainty").begin_object();
  w.key("bot_handover").boolean(u.bot_handover);
  w.key("bot_unreachable").boolean(u.bot_unreachable);
  w.key("confidence").number(u.confidence);
  w.key("fallback").boolean(u.fallback);
  w.key("fallbacks").number(u.fallbacks);
  w.key("hedge").boolean(u.hedge);
  w.key("low_streak").number(u.low_streak);
  w.key("score").number(u.score);
  w.end_object();
  w.key("value").begin_object();
  w.key("cancel").boolean(s.value.cancel);
  w.key("lifetime").number(s.value.lifetime);
  w.key("order").number(s.value.order);
  w.key("purchase").boolean(s.value.purchase);
  w.key("score").number(s.value.score);
  w.key("upgrade").boolean(s.value.upgrade);
  w.end_object();
  w.end_object();
}

void write_evidence(JsonWriter& w, const Evidence& e) {
  w.begin_object();
  w.key("cue").string(e.cue);
  w.key("family").string(family_name(e.family));
  w.key("text").string(e.text);
  w.end_object();
}

void write_skills(JsonWriter& w, const std::vector<std::string>& skills) {
  w.begin_array();
  for (const auto& skill : skills) w.string(skill);
  w.end_array();
}

void write_fired(JsonWriter& w, const FiredRule& fired, const Signals& signals) {
  const Rule& rule = *fired.rule;
  w.begin_object();
  w.key("action").string(action_name(rule.action));
  w.key("checks").begin_array();
  for (const Check& check : fired.checks) {
    w.begin_object();
    w.key("expression").string(check.text);
    w.key("field").string(check.field);
    w.key("value");
    if (check.is_string) {
      w.string(check.string);
    } else {
      w.number(check.number);
    }
    w.end_object();
  }
  w.end_array();
  w.key("evidence").begin_array();
  for (const Evidence& e : signals.evidence) {
    if ((fired.families >> static_cast<unsigned>(e.family)) & 1U) write_evidence(w, e);
  }
  w.end_array();
  w.key("id").string(rule.id);
  w.key("mode").string(rule_mode_name(rule.mode));
  w.key("priority").number(rule.priority);
  w.key("suppressed").string(suppression_name(fired.suppressed));
  w.end_object();
}

void write_fired_rules(JsonWriter& w, const Evaluation& evaluation) {
  w.begin_array();
  for (const FiredRule& rule : evaluation.fired) write_fired(w, rule, evaluation.signals);
  w.end_array();
}

void write_decision(JsonWriter& w, const Decision& decision) {
  w.begin_object();
  w.key("action").string(decision_kind_name(decision.kind));
  if (decision.rule != nullptr) {
    w.key("priority").number(decision.rule->priority);
    w.key("queue").string(decision.routing()->queue);
    w.key("rule").string(decision.rule->id);
    w.key("skills");
    write_skills(w, decision.routing()->skills);
    if (decision.suggested_by != nullptr) w.key("suggested_by").string(decision.suggested_by->id);
  }
  w.end_object();
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

std::string evaluation_text(const Evaluation& evaluation, std::string* fired) {
  std::string out;
  out.reserve(1536);
  JsonWriter w(out);
  w.begin_object();
  if (evaluation.bot_handover_reason) {
    w.key("bot_handover_reason").string(*evaluation.bot_handover_reason);
  }
  w.key("decision");
  write_decision(w, evaluation.decision);
  w.key("evidence").begin_array();
  for (const Evidence& e : evaluation.signals.evidence) write_evidence(w, e);
  w.end_array();
  w.key("fired");
  const std::size_t fired_begin = out.size();
  write_fired_rules(w, evaluation);
  if (fired != nullptr) fired->assign(out, fired_begin, out.size() - fired_begin);
  if (evaluation.rule_set != nullptr) {
    w.key("rule_set").raw(evaluation.rule_set->version_json());
  }
  w.key("signals");
  write_signals(w, evaluation.signals);
  w.end_object();
  return out;
}

std::string fired_text(const Evaluation& evaluation) {
  std::string out;
  JsonWriter w(out);
  write_fired_rules(w, evaluation);
  return out;
}

nlohmann::json to_json(const Evaluation& evaluation) {
  return nlohmann::json::parse(evaluation_text(evaluation));
}

}  // namespace handover::triggers
