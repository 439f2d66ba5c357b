// The JSON shapes of stored conversations and turns, shared by every interface that shows
// them (REST, the agent protocol, the public event feed). A turn's stored JSON columns are
// embedded as they are: the store writes them only from serialised JSON.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "handover/store/store.hpp"
#include "handover/util/json_writer.hpp"

namespace handover::store {

nlohmann::json conversation_json(const ConversationRecord& record);

// Which members of a turn a reader sees.
enum class TurnView {
  kFull,          // everything, the trigger evaluation included (operators' systems)
  kNoEvaluation,  // without the evaluation (rule ids, evidence, queue names): agents
  kCustomer,      // the end user's browser: no evaluation, metadata only on system turns
};

// Writes the turn as one JSON object, members in sorted order.
void write_turn(json_util::JsonWriter& writer, const TurnRecord& turn, TurnView view);
std::string turn_text(const TurnRecord& turn, TurnView view);
// The same as a tree.
nlohmann::json turn_json(const TurnRecord& turn, TurnView view);

}  // namespace handover::store
