// Per-turn evaluation: signals, rule expressions, suppression and the decision.
#include "handover/triggers/engine.hpp"

#include <array>
#include <cassert>
#include <limits>
#include <utility>

#include "rule_set_impl.hpp"

namespace handover::triggers {
namespace {

constexpr std::size_t kMaxFields = 64;

ConversationState::Cooldown* find_cooldown(ConversationState& state, std::uint32_t hash) {
  for (auto& slot : state.cooldowns) {
    if (slot.rule_hash == hash) return &slot;
  }
  return nullptr;
}

const ConversationState::Cooldown* find_cooldown(const ConversationState& state,
                                                 std::uint32_t hash) {
  for (const auto& slot : state.cooldowns) {
    if (slot.rule_hash == hash) return &slot;
  }
  return nullptr;
}

// A rule that reads a request.* field acts on the user's own ask for a person.
bool reads_requests(const CompiledRule& rule) {
  return ((rule.families >> static_cast<unsigned>(SignalFamily::kRequest)) & 1U) != 0;
}

bool cooling_down(ConversationState& state, const Rule& rule, std::uint32_t hash,
                  std::int64_t now_ms) {
  if (rule.cooldown_ms <= 0) return false;
  const auto* slot = find_cooldown(state, hash);
  return slot != nullptr && now_ms - state.acted_ms(*slot) < rule.cooldown_ms;
}

// When the cooldown kept in `slot` ends under `rule_set`. A rule no longer in the set (a
// reload removed it) has no cooldown left.
std::int64_t cooldown_end(const ConversationState& state, const ConversationState::Cooldown& slot,
                          const RuleSet& rule_set) {
  const auto& compiled = rule_set.impl().rules;
  for (std::size_t i = 0; i < compiled.size(); ++i) {
    if (compiled[i].id_hash == slot.rule_hash)
      return state.acted_ms(slot) + rule_set.rules()[i].cooldown_ms;
  }
  return std::numeric_limits<std::int64_t>::min();
}

// Reuses the rule's slot, else a free one, else the one whose cooldown ends first: one that
// has ended already if there is one, so only more live cooldowns than slots lose one.
void remember_action(ConversationState& state, const RuleSet& rule_set, std::uint32_t hash,
                     std::int64_t now_ms) {
  ConversationState::Cooldown* slot = find_cooldown(state, hash);
  if (slot == nullptr) slot = find_cooldown(state, 0);
  if (slot == nullptr) {
    slot = &state.cooldowns[0];
    std::int64_t slot_end = cooldown_end(state, *slot, rule_set);
    for (auto& candidate : state.cooldowns) {
      const std::int64_t end = cooldown_end(state, candidate, rule_set);
      if (end < slot_end) {
        slot = &candidate;
        slot_end = end;
      }
    }
  }
  state.set_cooldown(*slot, hash, now_ms);
}

bool stronger(const Rule& a, const Rule& b) {
  if (a.action != b.action) return a.action == Action::kEscalate;
  return a.priority > b.priority;
}

std::vector<Check> make_checks(const Rule& rule, const Expression& when, const FieldValue* values) {
  std::vector<Check> checks;
  checks.reserve(when.checks().size());
  for (const CheckSite& site : when.checks()) {
    const FieldDef& def = field_defs()[static_cast<std::size_t>(site.field)];
    const FieldValue& value = values[site.field];
    Check check;
    check.text = std::string_view(rule.when).substr(site.offset, site.length);
    check.field = def.name;
    check.is_string = def.type == ValueType::kString;
    check.number = value.number;
    check.string = value.string;
    checks.push_back(check);
  }
  return checks;
}

}  // namespace

Engine::Engine(std::shared_ptr<const RuleSet> rule_set) : rule_set_(std::move(rule_set)) {
  assert(rule_set_ != nullptr && "an Engine needs a rule set");
}

Evaluation Engine::evaluate(const ConversationInfo& info, ConversationState& state,
                            const TurnInput& turn, std::int64_t now_ms) const {
  thread_local Scratch scratch;
  const RuleSetImpl& impl = rule_set_->impl();
  Evaluation evaluation;
  evaluation.rule_set = rule_set_;
  impl.extractor->extract(info, state, turn, scratch, evaluation.signals);
  if (turn.bot_handover_reason) evaluation.bot_handover_reason = *turn.bot_handover_reason;

  assert(field_defs().size() <= kMaxFields);
  std::array<FieldValue, kMaxFields> values{};
  const FieldSource source{evaluation.signals, info};
  for (int field : impl.fields)
    values[static_cast<std::size_t>(field)] =
        field_defs()[static_cast<std::size_t>(field)].get(source);

  fire_rules(info, state, values.data(), now_ms, evaluation);
  decide(state, now_ms, evaluation);
  return evaluation;
}

void Engine::fire_rules(const ConversationInfo& info, ConversationState& state,
                        const FieldValue* values, std::int64_t now_ms,
                        Evaluation& evaluation) const {
  const RuleSetImpl& impl = rule_set_->impl();
  const auto& rules = rule_set_->rules();
  const bool with_human = info.state != "bot";
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const CompiledRule& compiled = impl.rules[i];
    if (!compiled.when.evaluate(values)) continue;
    FiredRule fired{&rules[i], Suppression::kNone, make_checks(rules[i], compiled.when, values),
                    compiled.families};
    if (rules[i].mode == RuleMode::kShadow) {
      fired.suppressed = Suppression::kShadow;
    } else if (with_human) {
      fired.suppressed = Suppression::kWithHuman;
      // A person has the conversation and answers for what the rule saw: its cooldown runs
      // from here, so that it does not act the moment the conversation is back with the bot
      // (on the resolution notice, say) for what the person already dealt with.
      if (rules[i].cooldown_ms > 0) remember_action(state, *rule_set_, compiled.id_hash, now_ms);
    } else if (cooling_down(state, rules[i], compiled.id_hash, now_ms)) {
      fired.suppressed = Suppression::kCooldown;
    }
    evaluation.fired.push_back(std::move(fired));
  }
}

std::optional<std::int64_t> Engine::request_cooling_since(const ConversationState& state,
                                                          std::int64_t now_ms) const {
  const auto& rules = rule_set_->rules();
  const auto& compiled = rule_set_->impl().rules;
  std::optional<std::int64_t> oldest;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    if (!reads_requests(compiled[i]) || rules[i].cooldown_ms <= 0) continue;
    const auto* slot = find_cooldown(state, compiled[i].id_hash);
    if (slot == nullptr || now_ms - state.acted_ms(*slot) >= rules[i].cooldown_ms) continue;
    if (!oldest || state.acted_ms(*slot) < *oldest) oldest = state.acted_ms(*slot);
  }
  return oldest;
}

void Engine::end_request_cooldowns(ConversationState& state, std::int64_t at_ms) const {
  for (const CompiledRule& compiled : rule_set_->impl().rules) {
    if (!reads_requests(compiled)) continue;
    ConversationState::Cooldown* slot = find_cooldown(state, compiled.id_hash);
    if (slot != nullptr && state.acted_ms(*slot) <= at_ms) *slot = ConversationState::Cooldown{};
  }
}

// The strongest unsuppressed rule decides, and its cooldown starts now. A user turn that says
// yes to an offer made after a suggestion is routed by the suggesting rule.
void Engine::decide(ConversationState& state, std::int64_t now_ms, Evaluation& evaluation) const {
  // The user's next turn answers a suggestion; later turns no longer do.
  const std::uint32_t suggested = evaluation.signals.role == "user"
                                      ? std::exchange(state.suggested_by, 0U)
                                      : state.suggested_by;
  const FiredRule* best = nullptr;
  for (const FiredRule& fired : evaluation.fired) {
    if (fired.suppressed == Suppression::kNone &&
        (best == nullptr || stronger(*fired.rule, *best->rule)))
      best = &fired;
  }
  if (best == nullptr) return;
  Decision& decision = evaluation.decision;
  decision.kind =
      best->rule->action == Action::kEscalate ? DecisionKind::kEscalate : DecisionKind::kSuggest;
  decision.rule = best->rule;
  const auto& rules = rule_set_->rules();
  const auto& compiled = rule_set_->impl().rules;
  const auto index = static_cast<std::size_t>(best->rule - rules.data());
  if (best->rule->cooldown_ms > 0)
    remember_action(state, *rule_set_, compiled[index].id_hash, now_ms);
  if (decision.kind == DecisionKind::kSuggest) {
    state.suggested_by = compiled[index].id_hash;
  } else if (evaluation.signals.request.accepted && suggested != 0) {
    // The suggesting rule may be gone after a reload: then the deciding rule routes.
    for (std::size_t i = 0; i < rules.size(); ++i) {
      if (compiled[i].id_hash == suggested && i != index) decision.suggested_by = &rules[i];
    }
  }
}

}  // namespace handover::triggers
