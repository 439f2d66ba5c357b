// Conversation rows written behind their turns. Private to the store module.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "handover/store/store.hpp"
#include "sqlite.hpp"

namespace handover::store {

// Every turn moves its conversation's `last_seq` and `updated_at_ms`. Rewriting the row for
// each turn cost a random page or two per turn (the row, and its entry in the index of idle
// conversations), so the writer stores those two columns behind the turns, in rounds: a
// round starts at most once per interval and writes the rows of the conversations that
// were behind when it started, a few in each transaction, so that no one commit grows long.
// This table holds the committed values the rows lack meanwhile. Readers lay them over the
// rows they read; the writer takes `last_seq` from here to number the next turn.
//
// An entry written in one round stays until the end of the next, so that a reader whose row
// predates the write still finds the value here. Values only ever grow.
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

  // Writer, after a COMMIT that deleted these conversations: a new one may take an id again.
  void forget(const std::vector<std::string>& ids);

  // Writer, after a COMMIT that wrote the rows of these conversations with the values
  // current() gave, before record() for that transaction's own turns.
  void written(const std::vector<std::string>& ids);

  // Writer, after the COMMIT that ended a round: drops what earlier rounds wrote.
  void finish_round();

  // Writer, after a COMMIT that wrote every entry unflushed() returned before it, and those
  // recorded for that transaction since: written() for all of them, then finish_round().
  void mark_flushed();

  // Writer: the entries no round has written yet.
  std::vector<std::pair<std::string, Entry>> unflushed() const;
  std::size_t unflushed_count() const;

  // The entry of one conversation, if there is one.
  std::optional<Entry> current(const std::string& id) const;

  // The newest committed seq of the conversation known here; 0 when none.
  std::int64_t last_seq(const std::string& id) const;

  // Raises record.last_seq and record.updated_at_ms to what is known here.
  void overlay(ConversationRecord& record) const;

  std::size_t size() const;

 private:
  struct Slot {
    Entry entry;
    std::uint64_t written_in = 0;  // the round that wrote this value; 0 while none has
  };

  void finish_round_locked();

  mutable std::mutex mutex_;
  std::uint64_t round_ = 1;                      // guarded by mutex_
  std::size_t unflushed_ = 0;                    // guarded by mutex_
  std::unordered_map<std::string, Slot> slots_;  // guarded by mutex_
};

// At open, before anything reads: brings the rows of conversations with turns the rows do
// not count yet (those above the stored mark, left by a stop between two rounds) up to
// date, and moves the mark to the newest turn.
Status catch_up_conversation_rows(Connection& db);

}  // namespace handover::store
