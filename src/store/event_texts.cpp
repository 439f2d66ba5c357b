// Stripping the texts that handover events quote, for the retention job's event_texts class.
#include "event_texts.hpp"

#include <exception>
#include <nlohmann/json.hpp>

namespace handover::store {
namespace {

using nlohmann::json;

// Each fired rule's evidence names the cue and its family, and quotes the matched words
// ("menschen", "idioten", a bot's whole hedging sentence): the quotes go, the names stay.
void blank_evidence(json& fired) {
  if (!fired.is_array()) return;
  for (json& rule : fired) {
    if (!rule.is_object()) continue;
    const auto evidence = rule.find("evidence");
    if (evidence == rule.end() || !evidence->is_array()) continue;
    for (json& item : *evidence) {
      if (!item.is_object()) continue;
      if (const auto text = item.find("text"); text != item.end()) *text = "";
    }
  }
}

void handover_reasons_stripped(sqlite3_context* call, int, sqlite3_value** args) {
  if (sqlite3_value_type(args[0]) == SQLITE_NULL) {
    sqlite3_result_null(call);
    return;
  }
  const auto* text = reinterpret_cast<const char*>(sqlite3_value_text(args[0]));
  const auto size = static_cast<std::size_t>(sqlite3_value_bytes(args[0]));
  try {
    const std::string stripped = strip_handover_reasons(std::string_view(text, size));
    sqlite3_result_text(call, stripped.data(), static_cast<int>(stripped.size()), SQLITE_TRANSIENT);
  } catch (const std::exception&) {
    // Nothing else throws on text SQLite made: the batch fails and the next run tries again.
    sqlite3_result_error_nomem(call);
  }
}

}  // namespace

std::string strip_handover_reasons(std::string_view reasons_json) {
  json reasons = json::parse(reasons_json, nullptr, /*allow_exceptions=*/false);
  if (reasons.is_array()) {
    blank_evidence(reasons);  // handover.requested keeps the fired array itself
  } else if (reasons.is_object()) {
    if (const auto fired = reasons.find("fired"); fired != reasons.end()) blank_evidence(*fired);
    const auto reason = reasons.find("reason");
    if (reason != reasons.end() && reason->is_string()) *reason = "";
  } else {
    return std::string(reasons_json);
  }
  return reasons.dump(-1, ' ', false, json::error_handler_t::replace);
}

int define_event_text_functions(sqlite3* db) {
  constexpr int kFlags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
  return sqlite3_create_function_v2(db, "handover_reasons_stripped", 1, kFlags, nullptr,
                                    &handover_reasons_stripped, nullptr, nullptr, nullptr);
}

}  // namespace handover::store
