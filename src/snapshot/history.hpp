// The snapshot's history: turns as the agent reads them, trimmed to a byte budget at whole
// turn boundaries.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <vector>

#include "handover/store/store.hpp"

namespace handover::snapshot {

struct TrimmedHistory {
  nlohmann::json turns = nlohmann::json::array();  // entries, oldest first
  std::size_t omitted = 0;                         // candidates left out for the budget
  std::size_t truncated = 0;                       // entries whose text was cut (0 or 1)
  bool first_user_turn_kept = false;
};

// {seq, id, role, text, created_at} plus agent_id for agent turns.
nlohmann::json history_entry(const store::TurnRecord& turn);

// Picks from `candidates` (oldest first, not empty; none null) what fits in `max_bytes` of
// serialised JSON array: the newest turn always, its text cut at a code point boundary and
// marked with text_truncated and text_bytes when it alone is too long; then `first_user`
// (null, or one of the candidates) if it fits; then the newest remaining turns back to the
// first one that does not fit. `max_bytes` must leave room for an entry with empty text
// (1024 bytes always do).
TrimmedHistory trim_history(const std::vector<const store::TurnRecord*>& candidates,
                            const store::TurnRecord* first_user, std::size_t max_bytes);

}  // namespace handover::snapshot
