// The JSON shapes of stored records in API responses.
#pragma once

#include <nlohmann/json.hpp>

#include "handover/store/store.hpp"

namespace handover::api {

nlohmann::json conversation_view(const store::ConversationRecord& record);
// `with_evaluation` false leaves out the trigger evaluation (rule ids, evidence, queue
// names), which is for the operator's systems, not for the end user's browser.
nlohmann::json turn_view(const store::TurnRecord& turn, bool with_evaluation = true);

}  // namespace handover::api
