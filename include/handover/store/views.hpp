// The JSON shapes of stored conversations and turns, shared by every interface that shows
// them (REST, the agent protocol, the public event feed). Stored JSON text is embedded
// after parsing.
#pragma once

#include <nlohmann/json.hpp>

#include "handover/store/store.hpp"

namespace handover::store {

nlohmann::json conversation_json(const ConversationRecord& record);
// `with_evaluation` false leaves out the trigger evaluation (rule ids, evidence, queue
// names), which is for the operator's systems, not for the end user's browser.
nlohmann::json turn_json(const TurnRecord& turn, bool with_evaluation);

}  // namespace handover::store
