// The context snapshot document: conversation, customer, trigger trace, timelines, bot
// actions, summary and the trimmed history, built from stored records only.
#include "handover/snapshot/snapshot.hpp"

#include <algorithm>

#include "handover/util/clock.hpp"
#include "history.hpp"
#include "stored_evaluation.hpp"
#include "summary.hpp"
#include "turn_facts.hpp"

namespace handover::snapshot {
namespace {

using nlohmann::json;

constexpr std::size_t kPage = 500;        // turns per store read
constexpr std::size_t kHeadPage = 50;     // turns per read while looking for the first user turn
constexpr std::size_t kMaxActions = 100;  // the newest bot actions kept
constexpr std::size_t kMaxActionData = 2048;  // bytes of an action's data kept with it

json parse_object(const std::string& text) {
  if (text.empty()) return nullptr;
  json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  return parsed.is_object() ? parsed : json(nullptr);
}

json parse_array(const std::string& text) {
  if (text.empty()) return nullptr;
  json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  return parsed.is_array() ? parsed : json(nullptr);
}

// A number member of `object`, or null.
json number_or_null(const json* object, const char* key) {
  if (object == nullptr) return nullptr;
  const auto it = object->find(key);
  return it != object->end() && it->is_number() ? *it : json(nullptr);
}

bool bool_member(const json* object, const char* key) {
  if (object == nullptr) return false;
  const auto it = object->find(key);
  return it != object->end() && it->is_boolean() && it->get<bool>();
}

json string_or_null(const json& object, const char* key) {
  const std::string s = string_member(object, key);
  return s.empty() ? json(nullptr) : json(s);
}

bool judged_unsure(const TurnFacts& f, double low_confidence) {
  if (const json* u = find_path(f.evaluation, {"signals", "uncertainty"})) {
    const auto streak = u->find("low_streak");
    return streak != u->end() && streak->is_number() && streak->get<double>() > 0;
  }
  if (bool_member(&f.bot, "fallback")) return true;
  const json confidence = number_or_null(f.bot.is_object() ? &f.bot : nullptr, "confidence");
  return confidence.is_number() && confidence.get<double>() < low_confidence;
}

// ---- Sections -----------------------------------------------------------------------------

json conversation_section(const store::ConversationRecord& c) {
  json metadata = parse_object(c.metadata_json);
  return {{"id", c.id},
          {"channel", c.channel},
          {"language", c.language},
          {"created_at", format_rfc3339_ms(c.created_at_ms)},
          {"updated_at", format_rfc3339_ms(c.updated_at_ms)},
          {"last_seq", c.last_seq},
          {"metadata", metadata.is_object() ? metadata : json::object()}};
}

// The customer's worth as the rules see it: the profile's tier and lifetime value, and the
// value signal of the newest evaluated turn.
json customer_value(const json& customer, const std::vector<TurnFacts>& turns) {
  const json* value = nullptr;
  for (auto it = turns.rbegin(); it != turns.rend() && value == nullptr; ++it) {
    value = find_path(it->evaluation, {"signals", "value"});
  }
  return {{"tier", string_or_null(customer, "tier")},
          {"lifetime_value", number_or_null(&customer, "lifetime_value")},
          {"max_order_value", number_or_null(value, "order")},
          {"score", number_or_null(value, "score")}};
}

json trigger_section(const TriggerInput& trigger, const std::vector<TurnFacts>& turns,
                     std::int64_t last_seq) {
  const bool rules = trigger.source != "api";
  json out = {{"source", rules ? "rules" : "api"},
              {"rule", trigger.rule.empty() ? json(nullptr) : json(trigger.rule)},
              {"reason", trigger.reason.empty() ? json(nullptr) : json(trigger.reason)},
              {"turn_seq", nullptr},
              {"decision", nullptr},
              {"rule_set", nullptr},
              {"fired", trigger.fired.is_array() ? trigger.fired : json::array()}};
  if (!rules || turns.empty() || turns.back().turn->seq != last_seq) return out;

  // The turn that decided is the newest one; its stored evaluation names the rule set.
  const json evaluation = parse_object(turns.back().turn->evaluation_json);
  out["turn_seq"] = last_seq;
  if (!evaluation.is_object()) return out;
  if (const json* d = find_path(evaluation, {"decision"})) out["decision"] = *d;
  if (const json* rs = find_path(evaluation, {"rule_set"})) {
    out["rule_set"] = {{"hash", string_member(*rs, "hash")},
                       {"loaded_at", string_member(*rs, "loaded_at")}};
  }
  const auto fired = evaluation.find("fired");
  if (out["fired"].empty() && fired != evaluation.end() && fired->is_array()) out["fired"] = *fired;
  return out;
}

json sentiment_timeline(const std::vector<TurnFacts>& turns) {
  json out = json::array();
  for (const auto& f : turns) {
    if (f.turn->role != "user") continue;
    const json* sentiment = find_path(f.evaluation, {"signals", "sentiment"});
    const json* anger = find_path(f.evaluation, {"signals", "anger"});
    if (sentiment == nullptr) continue;
    out.push_back({{"seq", f.turn->seq},
                   {"at", format_rfc3339_ms(f.turn->created_at_ms)},
                   {"scored", bool_member(sentiment, "scored")},
                   {"score", number_or_null(sentiment, "score")},
                   {"mean", number_or_null(sentiment, "mean")},
                   {"anger", number_or_null(anger, "score")},
                   {"insult", bool_member(anger, "insult")}});
  }
  return out;
}

json confidence_history(const std::vector<TurnFacts>& turns) {
  json out = json::array();
  for (const auto& f : turns) {
    if (f.turn->role != "bot") continue;
    const json* bot = f.bot.is_object() ? &f.bot : nullptr;
    const json* handover = bot != nullptr ? find_path(*bot, {"handover"}) : nullptr;
    out.push_back(
        {{"seq", f.turn->seq},
         {"at", format_rfc3339_ms(f.turn->created_at_ms)},
         {"confidence", number_or_null(bot, "confidence")},
         {"intent", string_or_null(f.bot, "intent")},
         {"fallback", bool_member(bot, "fallback")},
         {"hedge", bool_member(find_path(f.evaluation, {"signals", "uncertainty"}), "hedge")},
         {"unsure", f.unsure},
         {"handover_reason",
          handover != nullptr ? string_or_null(*handover, "reason") : json(nullptr)}});
  }
  return out;
}

json action_entry(std::int64_t seq, const json& action) {
  json out = {{"seq", seq},
              {"name", string_member(action, "name")},
              {"status", string_or_null(action, "status")}};
  if (const auto data = action.find("data"); data != action.end()) {
    const bool small =
        data->dump(-1, ' ', false, json::error_handler_t::replace).size() <= kMaxActionData;
    out["data"] = small ? *data : json(nullptr);
    if (!small) out["data_omitted"] = true;
  }
  return out;
}

json bot_actions(const std::vector<TurnFacts>& turns) {
  std::vector<json> all;
  for (const auto& f : turns) {
    if (!f.actions.is_array()) continue;
    for (const auto& action : f.actions) {
      if (action.is_object() && !string_member(action, "name").empty()) {
        all.push_back(action_entry(f.turn->seq, action));
      }
    }
  }
  const std::size_t skip = all.size() > kMaxActions ? all.size() - kMaxActions : 0;
  json out = json::array();
  for (std::size_t i = skip; i < all.size(); ++i) out.push_back(std::move(all[i]));
  return out;
}

std::vector<TurnFacts> facts_of(const TurnWindow& window, const SnapshotOptions& options) {
  std::vector<TurnFacts> facts;
  if (window.first_user_turn) {
    facts.push_back(read_facts(*window.first_user_turn, options.low_confidence));
    facts.back().contiguous = false;
  }
  for (const auto& turn : window.turns) facts.push_back(read_facts(turn, options.low_confidence));
  return facts;
}

const store::TurnRecord* first_user(const std::vector<TurnFacts>& facts) {
  for (const auto& f : facts) {
    if (f.turn->role == "user") return f.turn;
  }
  return nullptr;
}

json history_section(const std::vector<TurnFacts>& facts, std::int64_t total,
                     const SnapshotOptions& options, json& trimmed) {
  trimmed = nullptr;
  if (facts.empty()) return json::array();
  std::vector<const store::TurnRecord*> candidates;
  for (const auto& f : facts) candidates.push_back(f.turn);
  TrimmedHistory history = trim_history(candidates, first_user(facts), options.max_bytes);

  const auto read = static_cast<std::int64_t>(candidates.size());
  const std::int64_t not_read = std::max<std::int64_t>(0, total - read);
  if (not_read > 0 || history.omitted > 0 || history.truncated > 0) {
    trimmed = {{"omitted_turns", not_read + static_cast<std::int64_t>(history.omitted)},
               {"by_turn_limit", not_read},
               {"by_byte_limit", history.omitted},
               {"truncated_turns", history.truncated},
               {"first_user_turn_kept", history.first_user_turn_kept},
               {"max_turns", options.max_turns},
               {"max_bytes", options.max_bytes}};
  }
  return std::move(history.turns);
}

// Appends the turns with start < seq <= last to window.turns, a page at a time.
Status read_newest(store::Store& store, const std::string& id, std::int64_t start,
                   std::int64_t last, TurnWindow& window) {
  for (std::int64_t after = start; after < last;) {
    auto page = store.list_turns(id, after, kPage);
    if (!page) return page.status();
    for (auto& turn : *page) {
      if (turn.seq <= last) window.turns.push_back(std::move(turn));
    }
    if (page->size() < kPage || window.turns.empty()) return Status::ok();
    after = window.turns.back().seq;
  }
  return Status::ok();
}

// Sets window.first_user_turn to the first user turn with seq <= start, if there is one.
Status find_first_user(store::Store& store, const std::string& id, std::int64_t start,
                       TurnWindow& window) {
  for (std::int64_t after = 0; after < start;) {
    auto page = store.list_turns(id, after, kHeadPage);
    if (!page) return page.status();
    for (auto& turn : *page) {
      if (turn.seq > start) return Status::ok();
      if (turn.role == "user") {
        window.first_user_turn = std::move(turn);
        return Status::ok();
      }
    }
    if (page->size() < kHeadPage) return Status::ok();
    after = page->back().seq;
  }
  return Status::ok();
}

}  // namespace

std::string string_member(const json& object, const char* key) {
  if (!object.is_object()) return {};
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const json* find_path(const json& root, std::initializer_list<const char*> path) {
  const json* node = &root;
  for (const char* key : path) {
    if (!node->is_object()) return nullptr;
    const auto it = node->find(key);
    if (it == node->end()) return nullptr;
    node = &*it;
  }
  return node->is_object() ? node : nullptr;
}

TurnFacts read_facts(const store::TurnRecord& turn, double low_confidence) {
  TurnFacts f;
  f.turn = &turn;
  f.bot = parse_object(turn.bot_json);
  f.actions = parse_array(turn.actions_json);
  f.evaluation = read_stored_evaluation(turn.evaluation_json);
  if (turn.role == "bot") f.unsure = judged_unsure(f, low_confidence);
  return f;
}

Result<TurnWindow> read_turn_window(store::Store& store,
                                    const store::ConversationRecord& conversation,
                                    const SnapshotOptions& options) {
  TurnWindow window;
  const std::int64_t last = conversation.last_seq;
  const auto wanted = static_cast<std::int64_t>(std::max<std::size_t>(options.max_turns, 1));
  const std::int64_t start = std::max<std::int64_t>(0, last - wanted);
  if (Status s = read_newest(store, conversation.id, start, last, window); !s.is_ok()) return s;
  if (Status s = find_first_user(store, conversation.id, start, window); !s.is_ok()) return s;
  return window;
}

json build_snapshot(const SnapshotInput& input, const SnapshotOptions& options) {
  const std::vector<TurnFacts> facts = facts_of(input.window, options);
  json customer = parse_object(input.conversation.customer_json);
  if (!customer.is_object()) customer = json::object();
  const std::int64_t total = std::max(
      input.conversation.last_seq, input.window.turns.empty() ? 0 : input.window.turns.back().seq);
  json trimmed;
  json history = history_section(facts, total, options, trimmed);

  return {{"snapshot_version", kSnapshotVersion},
          {"frozen_at", format_rfc3339_ms(input.frozen_at_ms)},
          {"conversation", conversation_section(input.conversation)},
          {"customer", customer},
          {"customer_value", customer_value(customer, facts)},
          {"trigger", trigger_section(input.trigger, facts, input.conversation.last_seq)},
          {"summary", build_summary(facts, summary_language(input.conversation.language))},
          {"sentiment_timeline", sentiment_timeline(facts)},
          {"confidence_history", confidence_history(facts)},
          {"bot_actions", bot_actions(facts)},
          {"history", std::move(history)},
          {"history_trimmed", std::move(trimmed)}};
}

}  // namespace handover::snapshot
