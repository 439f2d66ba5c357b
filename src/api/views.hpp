// The JSON shapes of stored records in API responses.
#pragma once

#include <nlohmann/json.hpp>

#include "handover/store/views.hpp"

namespace handover::api {

inline nlohmann::json conversation_view(const store::ConversationRecord& record) {
  return store::conversation_json(record);
}
// `with_evaluation` false is the end user's view (see store::turn_json).
inline nlohmann::json turn_view(const store::TurnRecord& turn, bool with_evaluation = true) {
  return store::turn_json(turn, with_evaluation);
}

// What the end user's browser may see of a stored turn: no trigger evaluation, and metadata
// only on system turns (where it names the message and its choices); a bot's or an agent's
// metadata is for the operator's systems.
inline nlohmann::json customer_turn_view(const store::TurnRecord& turn) {
  nlohmann::json out = store::turn_json(turn, /*with_evaluation=*/false);
  if (turn.role != "system") out.erase("metadata");
  return out;
}

}  // namespace handover::api
