// Recently read conversation rows, kept so that a request need not start a read transaction
// for a conversation it just used. Private to the store module.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "handover/store/store.hpp"

namespace handover::store {

// Readers fill the cache; the writer keeps it equal to the database after every commit, by
// patching the fields a commit changed or by dropping entries it cannot patch. A reader's
// row read before a commit could reach the cache after the writer's patch and undo it, so
// each commit starts a new generation and a row read in an older one is not kept.
//
// Thread-safe. Entries beyond the capacity are dropped oldest first.
class ConversationCache {
 public:
  explicit ConversationCache(std::size_t capacity) : capacity_(capacity) {}

  std::optional<ConversationRecord> find(const std::string& id) const;

  // Take the generation before reading a row from the database, then offer the row with it.
  std::uint64_t generation() const;
  void offer(const ConversationRecord& record, std::uint64_t read_in_generation);

  // The writer, after COMMIT and before anyone is told of it: begin_commit() once, then
  // advance() for every conversation whose head the transaction wrote, or clear() when it
  // changed conversations in ways a head does not describe (deletions).
  void begin_commit();
  void advance(const std::string& id, std::int64_t last_seq, std::int64_t updated_at_ms,
               const std::string& state, const std::optional<std::string>& metadata_json);
  void clear();

  std::size_t size() const;

 private:
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::uint64_t generation_ = 0;                                // guarded by mutex_
  std::unordered_map<std::string, ConversationRecord> rows_;   // guarded by mutex_
  std::deque<std::string> arrival_;  // guarded by mutex_: the ids of rows_, oldest first
};

}  // namespace handover::store
