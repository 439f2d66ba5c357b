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

}  // namespace handover::api
