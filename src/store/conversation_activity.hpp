// Conversation rows written behind their turns. Private to the store module.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "handover/store/store.hpp"
#include "sqlite.hpp"

namespace handover::store {

// Every turn moves its conversation's `last_seq` and `updated_at_ms`. Rewriting the row for
// each turn cost a random page or two per turn (the row, and its entry in the index of idle
// conversations), so the writer stores those two columns at most once per flush interval and
// this table holds the committed values the rows lack meanwhile. Readers lay them over the
// rows they read; the writer takes `last_seq` from here to number the next turn.
//
// An entry written by a flush stays until the flush after it, so that a reader whose row
// predates that flush still finds the value here. Values only ever grow.
//
// Thread-safe.
class ConversationActivity {
 public:
  struct Entry {
    std::int64_t pk = 0;
    std::int64_t last_seq = 0;
    std::int64_t updated_at_ms = 0;
  };

  // Writer, after a COMMIT: the conversation's row may lag behind `entry`.
  void record(const std::string& id, const Entry& entry);

  // Writer, after a COMMIT that wrote every entry unflushed() returned before it, and the
  // entries recorded for that transaction since.
  void mark_flushed();

  // Writer, after a COMMIT that deleted these conversations: a new one may take an id again.
  void forget(const std::vector<std::string>& ids);

  // Writer: the entries no flush has written yet.
  std::vector<std::pair<std::string, Entry>> unflushed() const;
  std::size_t unflushed_count() const;

  // The newest committed seq of the conversation known here; 0 when none.
  std::int64_t last_seq(const std::string& id) const;

  // Raises record.last_seq and record.updated_at_ms to what is known here.
  void overlay(ConversationRecord& record) const;

  std::size_t size() const;

 private:
  struct Slot {
    Entry entry;
    std::uint64_t flushed_in = 0;  // the flush that wrote this value; 0 while none has
  };

  mutable std::mutex mutex_;
  std::uint64_t flushes_ = 0;                        // guarded by mutex_
  std::size_t unflushed_ = 0;                        // guarded by mutex_
  std::unordered_map<std::string, Slot> slots_;      // guarded by mutex_
};

// At open, before anything reads: brings the rows of conversations with turns the rows do
// not count yet (those above the stored mark, left by a stop between two flushes) up to
// date, and moves the mark to the newest turn.
Status catch_up_conversation_rows(Connection& db);

// Writer, inside the flush's transaction: the mark for catch_up_conversation_rows.
inline constexpr const char* kMarkRowsCountTurnsSql =
    "UPDATE store_marks SET value = (SELECT coalesce(max(id), 0) FROM turns) "
    "WHERE name = 'rows_count_turns_through'";

}  // namespace handover::store
