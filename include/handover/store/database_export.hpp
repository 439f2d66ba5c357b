// Read-only access to a server's database file for offline tools: every conversation with
// its turns, and the agents' feedback on resolved handovers. Never writes to the file.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "handover/store/store.hpp"
#include "handover/util/status.hpp"

namespace handover::store {

// An agent's verdict on one resolved handover, with the handover it judges.
struct FeedbackRecord {
  std::string conversation_id;
  std::string agent_id;
  std::string justified;    // "yes", "no" or "too_late"
  std::string reason_code;  // "" when the agent gave none
  std::string rule;         // the rule that escalated ("" for a handover asked for by API)
  std::int64_t escalated_at_ms = 0;
  std::int64_t escalated_turn = 0;  // seq of the last turn stored before the escalation
  std::int64_t resolved_at_ms = 0;
};

class DatabaseExport {
 public:
  // Opens `path` read-only; a server may keep running on it (WAL). NotFound for a missing
  // file; Internal for a file that is not a handover database or has a newer schema.
  static Result<std::unique_ptr<DatabaseExport>> open(const std::string& path);
  ~DatabaseExport();
  DatabaseExport(const DatabaseExport&) = delete;
  DatabaseExport& operator=(const DatabaseExport&) = delete;

  // Calls `each` for every conversation, oldest first, with all its turns in seq order, all
  // read from one snapshot. Stops at the first non-OK status `each` returns and returns it.
  Status for_each_conversation(
      const std::function<Status(const ConversationRecord&, const std::vector<TurnRecord>&)>& each);

  // The feedback of every resolved handover, oldest first: for each routing.resolved event
  // the escalation before it in the same conversation.
  Result<std::vector<FeedbackRecord>> feedback();

 private:
  struct Impl;
  explicit DatabaseExport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace handover::store
