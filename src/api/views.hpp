// The JSON shapes of stored records in API responses.
#pragma once

#include <nlohmann/json.hpp>

#include "handover/store/views.hpp"

namespace handover::api {

inline nlohmann::json conversation_view(const store::ConversationRecord& record) {
  return store::conversation_json(record);
}
inline nlohmann::json turn_view(const store::TurnRecord& turn) {
  return store::turn_json(turn, store::TurnView::kFull);
}

}  // namespace handover::api
