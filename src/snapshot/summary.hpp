// The extractive summary for the agent: the customer's main concern, what the bot tried and
// the questions left open, picked from the turns themselves (no outside service).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "turn_facts.hpp"

namespace handover::snapshot {

// The language the summary's labels are printed in: "de" for German conversations (any "de"
// tag), otherwise "en".
std::string summary_language(const std::string& conversation_language);

// {"language", "main_concern": [{seq, text}], "bot_tried": {intents, actions, fallbacks,
// unsure_answers}, "open_questions": [{seq, text}], "text"}. `turns` oldest first.
nlohmann::json build_summary(const std::vector<TurnFacts>& turns, const std::string& language);

}  // namespace handover::snapshot
