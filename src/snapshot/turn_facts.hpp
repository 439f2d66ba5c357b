// One stored turn as the snapshot reads it: its JSON columns parsed once, and the verdict on
// a bot turn's certainty.
#pragma once

#include <nlohmann/json.hpp>

#include "handover/store/store.hpp"

namespace handover::snapshot {

struct TurnFacts {
  const store::TurnRecord* turn = nullptr;  // not owned
  nlohmann::json bot;                       // an object, or null when absent or unreadable
  nlohmann::json actions;                   // an array, or null
  // Of the stored evaluation, "signals" (sentiment, anger, uncertainty, value) and
  // "evidence"; null without one (no trigger engine, or unreadable).
  nlohmann::json evaluation;
  // Bot turns: the stored evaluation counted it as unsure (low confidence, fallback or
  // hedging); without one, fallback or confidence below the threshold.
  bool unsure = false;
  // False for the first user turn when it was read apart from the newest turns: what
  // followed it is not known.
  bool contiguous = true;
};

// Parses `turn`'s JSON columns. `turn` must outlive the result.
TurnFacts read_facts(const store::TurnRecord& turn, double low_confidence);

// The member `key` of `object` if it is a string, else "".
std::string string_member(const nlohmann::json& object, const char* key);

// The object at `path` (e.g. {"signals", "sentiment"}) inside `root`, or nullptr.
const nlohmann::json* find_path(const nlohmann::json& root,
                                std::initializer_list<const char*> path);

}  // namespace handover::snapshot
