// What an agent's event stream leaves open at its newest event: the offers not yet ended and
// the conversations assigned. A `state` frame built from it stands in for a replay of the
// whole stream (docs/agent-protocol.md, "Sequence numbers and resume").
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "handover/store/store.hpp"

namespace handover::agents {

// Not thread-safe; the agent service guards it with its connection lock.
class AgentStream {
 public:
  // Folds in an agent-directed event of this agent. Events at or below newest() are already
  // in and are ignored, so a replayed page and a live delivery may overlap.
  void apply(const store::EventRecord& event);

  // The seq of the newest event applied; 0 for an empty stream.
  std::int64_t newest() const { return newest_; }
  // The `offer` events not followed by their end, oldest first.
  std::vector<store::EventRecord> open_offers() const;
  // The `assigned` events not followed by an `unassigned` of their conversation, oldest first.
  std::vector<store::EventRecord> assignments() const;
  // True when `conversation` is assigned to the agent at newest().
  bool holds(const std::string& conversation) const;
  // True when the `offer` event with this seq has not ended by newest().
  bool offer_open(std::int64_t seq) const;

 private:
  std::int64_t newest_ = 0;
  std::map<std::uint64_t, store::EventRecord> offers_;  // by offer id
  std::map<std::string, store::EventRecord> assigned_;  // by conversation id
};

}  // namespace handover::agents
