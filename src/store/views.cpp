// Conversation and turn JSON views. Stored JSON text is embedded after parsing.
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

nlohmann::json turn_json(const TurnRecord& t, bool with_evaluation) {
  nlohmann::json out = {
      {"seq", t.seq},
      {"id", t.client_turn_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(t.client_turn_id)},
      {"role", t.role},
      {"text", t.text},
      {"created_at", format_rfc3339_ms(t.created_at_ms)},
  };
  if (!t.bot_json.empty()) out["bot"] = embedded(t.bot_json, nullptr);
  if (!t.actions_json.empty()) out["actions"] = embedded(t.actions_json, nullptr);
  if (!t.metadata_json.empty()) out["metadata"] = embedded(t.metadata_json, nullptr);
  if (with_evaluation && !t.evaluation_json.empty()) {
    out["evaluation"] = embedded(t.evaluation_json, nullptr);
  }
  return out;
}

}  // namespace handover::store
