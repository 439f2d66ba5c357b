// --export-db and --export-feedback: a server's database as a replay corpus and as labels.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>

#include "handover/store/database_export.hpp"
#include "options.hpp"

namespace handover::replay {

// One conversation in the corpus format of docs/replay.md (one JSONL line once dumped).
nlohmann::json corpus_line(const store::ConversationRecord& conversation,
                           const std::vector<store::TurnRecord>& turns);

// One label line keyed by conversation id: "yes" needs a person from the escalation turn on,
// "too_late" needs one earlier (turn unknown, so 0), "no" needed none.
nlohmann::json label_line(const store::FeedbackRecord& feedback);

// Runs the export the options ask for. Returns the process exit status.
int run_export(const Options& options, std::ostream& out, std::ostream& err);

}  // namespace handover::replay
