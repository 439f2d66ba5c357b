// The context snapshot: what an agent needs to take over a conversation, frozen at
// escalation. Its JSON shape is docs/snapshot.schema.json (snapshot_version 2).
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "handover/store/store.hpp"
#include "handover/util/status.hpp"

namespace handover::snapshot {

// Bumped whenever a member changes meaning or an existing one goes away.
inline constexpr int kSnapshotVersion = 2;

struct SnapshotOptions {
  // Most bytes of the serialised "history" array. The oldest turns go first; the newest turn
  // always stays, cut at a code point boundary when it alone is too long. At least 1024.
  std::size_t max_bytes = 65536;
  // Newest turns read; history, timelines, actions and summary come from them (plus the
  // first user turn when it is older).
  std::size_t max_turns = 200;
  // A bot turn without a stored evaluation counts as unsure below this confidence (stored
  // evaluations carry the verdict of the rule set's own threshold).
  double low_confidence = 0.5;
};

// Why the conversation is handed over.
struct TriggerInput {
  std::string source = "rules";  // "rules" (a trigger rule decided) or "api" (asked for)
  std::string rule;              // the deciding rule's id; empty for "api"
  std::string reason;            // the reason given with an API request; empty for "rules"
  nlohmann::json fired = nlohmann::json::array();  // the fired rules with checks and evidence
};

// The turns a snapshot is built from.
struct TurnWindow {
  std::vector<store::TurnRecord> turns;  // the newest turns, oldest first, contiguous seqs
  // The conversation's first user turn when it is older than `turns`.
  std::optional<store::TurnRecord> first_user_turn;
};

struct SnapshotInput {
  store::ConversationRecord conversation;  // as it was when the handover was decided
  TurnWindow window;
  TriggerInput trigger;
  std::int64_t frozen_at_ms = 0;
};

// Reads the newest options.max_turns turns up to conversation.last_seq, in pages, and the
// first user turn when it is older. Returns the store's error (NotFound for an unknown
// conversation, Unavailable, ...). Callable from any thread.
Result<TurnWindow> read_turn_window(store::Store& store,
                                    const store::ConversationRecord& conversation,
                                    const SnapshotOptions& options);

// Builds the snapshot document. Pure: stored JSON that cannot be parsed is left out, never
// an error. The result serialises to valid UTF-8 when the stored texts are valid UTF-8.
nlohmann::json build_snapshot(const SnapshotInput& input, const SnapshotOptions& options);

}  // namespace handover::snapshot
