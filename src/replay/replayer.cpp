// Offline replay of one conversation through the trigger engine, and the totals over many.
#include "handover/replay/replayer.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <numeric>

#include "handover/triggers/engine.hpp"
#include "handover/triggers/rule_set.hpp"

namespace handover::replay {
namespace {

triggers::TurnInput turn_input(const ReplayTurn& turn) {
  triggers::TurnInput in;
  in.role = turn.role;
  in.text = turn.text;
  in.bot_confidence = turn.bot_confidence;
  in.bot_fallback = turn.bot_fallback;
  in.bot_intent = turn.bot_intent;
  in.bot_handover_reason = turn.bot_handover_reason;
  if (turn.metadata.is_object()) in.metadata = &turn.metadata;
  return in;
}

}  // namespace

int Outcome::predicted_turn(bool count_suggest) const {
  if (!count_suggest || first_suggest_turn == 0) return escalated_turn;
  if (escalated_turn == 0) return first_suggest_turn;
  return std::min(escalated_turn, first_suggest_turn);
}

Replayer::Replayer(std::shared_ptr<const triggers::RuleSet> rules) : rules_(std::move(rules)) {}

Outcome Replayer::run(const ReplayConversation& conversation) const {
  const triggers::Engine engine(rules_);
  triggers::ConversationInfo info;
  info.language = conversation.language;
  info.customer_tier = conversation.customer_tier;
  info.lifetime_value = conversation.lifetime_value;
  triggers::ConversationState state;

  Outcome outcome;
  outcome.id = conversation.id;
  outcome.label = conversation.label;
  std::int64_t now_ms = kStartMs;
  for (std::size_t i = 0; i < conversation.turns.size(); ++i) {
    const ReplayTurn& turn = conversation.turns[i];
    now_ms = turn.at_ms.value_or(now_ms + kTurnSpacingMs);
    const triggers::Evaluation evaluation = engine.evaluate(info, state, turn_input(turn), now_ms);
    outcome.turns = i + 1;
    const auto& decision = evaluation.decision;
    if (decision.kind == triggers::DecisionKind::kSuggest) {
      ++outcome.suggestions;
      if (outcome.first_suggest_turn == 0) {
        outcome.first_suggest_turn = static_cast<int>(i) + 1;
        outcome.first_suggest_rule = decision.rule->id;
      }
    } else if (decision.kind == triggers::DecisionKind::kEscalate) {
      outcome.escalated_turn = static_cast<int>(i) + 1;
      outcome.escalated_rule = decision.rule->id;
      break;
    }
  }
  return outcome;
}

double Confusion::precision() const {
  return tp + fp == 0 ? 0.0 : static_cast<double>(tp) / static_cast<double>(tp + fp);
}
double Confusion::recall() const {
  return tp + fn == 0 ? 0.0 : static_cast<double>(tp) / static_cast<double>(tp + fn);
}
double Confusion::f1() const {
  const double p = precision();
  const double r = recall();
  return p + r == 0 ? 0.0 : 2 * p * r / (p + r);
}

double Timing::mean() const {
  if (deltas.empty()) return 0.0;
  return std::accumulate(deltas.begin(), deltas.end(), 0.0) / static_cast<double>(deltas.size());
}

int Timing::median() const {
  if (deltas.empty()) return 0;
  std::vector<int> sorted = deltas;
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<long>(sorted.size() / 2),
                   sorted.end());
  return sorted[sorted.size() / 2];
}

void Summary::add(const Outcome& outcome) {
  ++conversations_;
  turns_ += outcome.turns;
  if (outcome.escalated_turn > 0) {
    ++escalated_;
    ++by_rule_[outcome.escalated_rule];
    ++by_turn_[outcome.escalated_turn];
  }
  if (outcome.first_suggest_turn > 0) {
    ++suggested_;
    ++suggest_by_rule_[outcome.first_suggest_rule];
  }
  const int predicted = outcome.predicted_turn(count_suggest_);
  if (predicted > 0) ++handed_over_;
  if (!outcome.label) return;

  const bool gold = outcome.label->needs_human;
  if (gold && predicted > 0) ++confusion_.tp;
  if (gold && predicted == 0) ++confusion_.fn;
  if (!gold && predicted > 0) ++confusion_.fp;
  if (!gold && predicted == 0) ++confusion_.tn;
  if (!gold || predicted == 0 || outcome.label->turn == 0) return;
  const int delta = predicted - outcome.label->turn;
  timing_.deltas.push_back(delta);
  ++(delta < 0 ? timing_.early : delta == 0 ? timing_.on_time : timing_.late);
}

double Summary::handover_rate() const {
  return conversations_ == 0
             ? 0.0
             : static_cast<double>(handed_over_) / static_cast<double>(conversations_);
}

nlohmann::json Summary::to_json() const {
  nlohmann::json by_turn = nlohmann::json::object();
  for (const auto& [turn, n] : by_turn_) by_turn[std::to_string(turn)] = n;
  nlohmann::json out = {{"conversations", conversations_},
                        {"turns", turns_},
                        {"escalated", escalated_},
                        {"suggested", suggested_},
                        {"handover_rate", handover_rate()},
                        {"count_suggest", count_suggest_},
                        {"escalations_by_rule", by_rule_},
                        {"suggestions_by_rule", suggest_by_rule_},
                        {"escalations_by_turn", std::move(by_turn)}};
  if (confusion_.labelled() == 0) return out;
  out["labels"] = {{"labelled", confusion_.labelled()},
                   {"tp", confusion_.tp},
                   {"fp", confusion_.fp},
                   {"fn", confusion_.fn},
                   {"tn", confusion_.tn},
                   {"precision", confusion_.precision()},
                   {"recall", confusion_.recall()},
                   {"f1", confusion_.f1()},
                   {"timing",
                    {{"early", timing_.early},
                     {"on_time", timing_.on_time},
                     {"late", timing_.late},
                     {"mean_turns", timing_.mean()},
                     {"median_turns", timing_.median()}}}};
  return out;
}

std::optional<Change> compare_outcomes(const Outcome& before, const Outcome& after) {
  const int a = before.escalated_turn;
  const int b = after.escalated_turn;
  if (a == b && before.escalated_rule == after.escalated_rule) return std::nullopt;
  Change change{before, after, ""};
  if (a == 0) {
    change.kind = "now_escalates";
  } else if (b == 0) {
    change.kind = "no_longer_escalates";
  } else if (b < a) {
    change.kind = "earlier";
  } else if (b > a) {
    change.kind = "later";
  } else {
    change.kind = "other_rule";
  }
  return change;
}

}  // namespace handover::replay
