// The JSON shapes of stored records in API responses.
#pragma once

#include <nlohmann/json.hpp>

#include "handover/store/store.hpp"

namespace handover::api {

nlohmann::json conversation_view(const store::ConversationRecord& record);
nlohmann::json turn_view(const store::TurnRecord& turn);

}  // namespace handover::api
