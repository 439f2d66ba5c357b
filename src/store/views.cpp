// Conversation and turn JSON views.
#include "handover/store/views.hpp"

#include "handover/util/clock.hpp"

namespace handover::store {
namespace {

nlohmann::json embedded(const std::string& text, nlohmann::json fallback) {
  if (text.empty()) return fallback;
  auto parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  return parsed.is_discarded() ? fallback : parsed;
}

}  // namespace

nlohmann::json conversation_json(const ConversationRecord& r) {
  return {
      {"id", r.id},
      {"state", r.state},
      {"channel", r.channel},
      {"language", r.language},
      {"customer", embedded(r.customer_json, nlohmann::json::object())},
      {"metadata", embedded(r.metadata_json, nlohmann::json::object())},
      {"created_at", format_rfc3339_ms(r.created_at_ms)},
      {"updated_at", format_rfc3339_ms(r.updated_at_ms)},
      {"last_seq", r.last_seq},
      {"privacy_notice_version", r.privacy_notice_version.empty()
                                     ? nlohmann::json(nullptr)
                                     : nlohmann::json(r.privacy_notice_version)},
  };
}

void write_turn(json_util::JsonWriter& w, const TurnRecord& t, TurnView view) {
  const bool evaluation = view == TurnView::kFull && !t.evaluation_json.empty();
  const bool metadata =
      !t.metadata_json.empty() && (view != TurnView::kCustomer || t.role == "system");
  w.begin_object();
  if (!t.actions_json.empty()) w.key("actions").raw(t.actions_json);
  if (!t.bot_json.empty()) w.key("bot").raw(t.bot_json);
  w.key("created_at").string(format_rfc3339_ms(t.created_at_ms));
  if (evaluation) w.key("evaluation").raw(t.evaluation_json);
  w.key("id");
  if (t.client_turn_id.empty()) {
    w.null();
  } else {
    w.string(t.client_turn_id);
  }
  if (metadata) w.key("metadata").raw(t.metadata_json);
  w.key("role").string(t.role);
  w.key("seq").number(t.seq);
  w.key("text").string(t.text);
  w.end_object();
}

std::string turn_text(const TurnRecord& turn, TurnView view) {
  std::string out;
  out.reserve(256 + turn.text.size() + turn.evaluation_json.size() + turn.metadata_json.size());
  json_util::JsonWriter w(out);
  write_turn(w, turn, view);
  return out;
}

nlohmann::json turn_json(const TurnRecord& turn, TurnView view) {
  return nlohmann::json::parse(turn_text(turn, view));
}

}  // namespace handover::store
