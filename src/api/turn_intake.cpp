// Trigger evaluation in the turn intake, with the engine state rebuilt from stored turns.
#include "turn_intake.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "handover/triggers/engine.hpp"
#include "handover/triggers/rule_set_holder.hpp"
#include "handover/triggers/trigger_service.hpp"

namespace handover::api {
namespace {

using nlohmann::json;

json parse_or_null(const std::string& text) {
  if (text.empty()) return nullptr;
  return json::parse(text, nullptr, /*allow_exceptions=*/false);
}

// The engine's view of one stored turn. Views point into `turn` and `metadata`.
triggers::TurnInput turn_input(const store::TurnRecord& turn, const json& bot,
                               const json& metadata) {
  triggers::TurnInput in;
  in.role = turn.role;
  in.text = turn.text;
  if (bot.is_object()) {
    if (auto c = bot.find("confidence"); c != bot.end() && c->is_number()) {
      in.bot_confidence = c->get<double>();
    }
    in.bot_fallback = bot.value("fallback", false);
    in.bot_unreachable = bot.value("unreachable", false);
    if (auto i = bot.find("intent"); i != bot.end() && i->is_string()) {
      in.bot_intent = i->get_ref<const std::string&>();
    }
    if (auto h = bot.find("handover"); h != bot.end() && h->is_object()) {
      in.bot_handover_reason = h->value("reason", std::string());
    }
  }
  if (metadata.is_object()) in.metadata = &metadata;
  return in;
}

// The customer profile as an object ({} when absent or unreadable). Callers keep it alive
// while a ConversationInfo made from it is in use.
json customer_of(const store::ConversationRecord& conv) {
  json customer = parse_or_null(conv.customer_json);
  return customer.is_object() ? customer : json::object();
}

// Language, tier and lifetime value from the conversation record; views into `customer`.
triggers::ConversationInfo conversation_info(const store::ConversationRecord& conv,
                                             const json& customer) {
  triggers::ConversationInfo info;
  const bool known_language = !conv.language.empty() && conv.language != "und";
  info.language = known_language ? std::string_view(conv.language) : std::string_view();
  info.state = conv.state;
  if (auto t = customer.find("tier"); t != customer.end() && t->is_string()) {
    info.customer_tier = t->get_ref<const std::string&>();
  }
  if (auto v = customer.find("lifetime_value"); v != customer.end() && v->is_number()) {
    info.lifetime_value = v->get<double>();
  }
  return info;
}

// When the conversation last came back to the bot from a person or a queue (an agent returned
// or resolved it, or the waiting user went back to the bot); 0 when it never did.
Result<std::int64_t> last_return_to_bot_ms(store::Store& store, const std::string& id) {
  constexpr std::size_t kPage = 1000;
  store::EventQuery query;
  query.conversation_id = id;
  query.limit = kPage;
  std::int64_t last = 0;
  for (;;) {
    auto page = store.list_events(query);
    if (!page) return page.status();
    for (const auto& event : *page) {
      if (event.type == "routing.returned" || event.type == "routing.resolved" ||
          event.type == "routing.cancelled") {
        last = std::max(last, event.created_at_ms);
      }
    }
    if (page->size() < kPage) return last;
    query.after_id = page->back().id;
  }
}

// `fired_json` is the evaluation's "fired" array as evaluation_text() wrote it.
Verdict verdict_of(const triggers::Evaluation& e, std::string fired_json) {
  Verdict v;
  v.kind = e.decision.kind;
  if (e.decision.rule) {
    v.rule_id = e.decision.rule->id;
    if (e.decision.suggested_by != nullptr) v.suggested_by = e.decision.suggested_by->id;
    v.queue = e.decision.routing()->queue;
    v.skills = e.decision.routing()->skills;
    v.priority = e.decision.rule->priority;
  }
  if (!e.fired.empty()) v.fired_json = std::move(fired_json);
  return v;
}

}  // namespace

TurnIntake::TurnIntake(triggers::TriggerService& triggers, store::Store& store,
                       metrics::Family<metrics::Counter>* fired)
    : triggers_(triggers), store_(store), fired_(fired) {}

std::mutex& TurnIntake::stripe(const std::string& conversation_id) {
  return stripes_[std::hash<std::string>{}(conversation_id) % kStripes];
}

Status TurnIntake::rebuild(const store::ConversationRecord& conv) {
  const triggers::Engine engine = triggers_.rules().engine();
  const json customer = customer_of(conv);
  const auto info = conversation_info(conv, customer);
  triggers::ConversationState state;
  constexpr std::size_t kPage = 500;
  for (std::int64_t after = 0;;) {
    auto page = store_.list_turns(conv.id, after, kPage);
    if (!page) return page.status();
    for (const auto& turn : *page) {
      const json bot = parse_or_null(turn.bot_json);
      const json metadata = parse_or_null(turn.metadata_json);
      engine.evaluate(info, state, turn_input(turn, bot, metadata), turn.created_at_ms);
    }
    if (page->size() < kPage) break;
    after = page->back().seq;
  }
  triggers_.restore(conv.id, state);
  return Status::ok();
}

// A cooldown keeps a rule from acting twice on one stretch of talk with the bot. Once a person
// or a queue has had the conversation and it came back, a user asking for a person again must
// reach one, so the cooldowns of the request rules end there. Rules on signals that build up
// (mood, anger, value) keep theirs: those signals still hold what led to the handover. The
// kept state (live or rebuilt from the turns) knows nothing of the handover, so the event log
// is read, only while a request rule's cooldown runs.
void TurnIntake::end_cooldowns_before_return(const store::ConversationRecord& conv) {
  if (conv.state != "bot") return;
  const std::optional<std::int64_t> since = triggers_.request_cooling_since(conv.id);
  if (!since) return;
  const Result<std::int64_t> returned = last_return_to_bot_ms(store_, conv.id);
  if (!returned) {
    // The cooldown stays, as it did before returns were looked at; the turn still goes in.
    spdlog::warn("cooldowns kept conv={}: {}", conv.id, returned.status().message());
    return;
  }
  if (*returned >= *since) triggers_.end_request_cooldowns(conv.id, *returned);
}

void TurnIntake::count_fired(const triggers::Evaluation& evaluation) {
  if (fired_ == nullptr || evaluation.fired.empty()) return;
  std::lock_guard lock(fired_mu_);
  for (const triggers::FiredRule& fired : evaluation.fired) {
    auto it = fired_counters_.find(std::string_view(fired.rule->id));
    if (it == fired_counters_.end()) {
      it = fired_counters_.emplace(fired.rule->id, FiredCounters{}).first;
    }
    const auto kind = static_cast<std::size_t>(fired.suppressed);
    if (kind >= it->second.size()) continue;
    metrics::Counter*& counter = it->second[kind];
    if (counter == nullptr) {
      counter = &fired_->with({fired.rule->id, triggers::suppression_name(fired.suppressed)});
    }
    counter->inc();
  }
}

void TurnIntake::submit(const store::ConversationRecord& conv, store::AppendTurnRequest request,
                        IntakeCallback done, const FollowUpFor& follow_up_for) {
  std::lock_guard lock(stripe(conv.id));
  if (conv.last_seq > 0 && !triggers_.has_state(conv.id)) {
    if (Status s = rebuild(conv); !s.is_ok()) return done(s, Verdict{});
  }
  end_cooldowns_before_return(conv);

  const json customer = customer_of(conv);
  const json bot = parse_or_null(request.turn.bot_json);
  const json metadata = parse_or_null(request.turn.metadata_json);
  const auto info = conversation_info(conv, customer);
  const auto evaluation =
      triggers_.evaluate(conv.id, info, turn_input(request.turn, bot, metadata));
  count_fired(evaluation);
  std::string fired_json;
  request.turn.evaluation_json = triggers::evaluation_text(evaluation, &fired_json);
  Verdict verdict = verdict_of(evaluation, std::move(fired_json));
  if (follow_up_for) request.follow_up = follow_up_for(verdict);

  // The store applies writes in submission order, so submitting under the lock keeps
  // each conversation's seq order equal to its evaluation order.
  const std::string id = conv.id;
  store_.append_turn(std::move(request), [this, id, verdict = std::move(verdict),
                                          done = std::move(done)](
                                             Result<store::AppendTurnOutcome> result) {
    // A turn that was not newly stored must not count in the kept state.
    if (!result || result->kind != store::AppendKind::kCreated) triggers_.forget(id);
    done(std::move(result), verdict);
  });
}

}  // namespace handover::api
