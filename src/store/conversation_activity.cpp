#include "conversation_activity.hpp"

#include <algorithm>

namespace handover::store {

void ConversationActivity::record(const std::string& id, const Entry& entry) {
  std::lock_guard lock(mutex_);
  auto [it, added] = slots_.try_emplace(id);
  Slot& slot = it->second;
  slot.entry.pk = entry.pk;
  slot.entry.last_seq = std::max(slot.entry.last_seq, entry.last_seq);
  slot.entry.updated_at_ms = std::max(slot.entry.updated_at_ms, entry.updated_at_ms);
  if (added || slot.flushed_in != 0) ++unflushed_;
  slot.flushed_in = 0;
}

void ConversationActivity::mark_flushed() {
  std::lock_guard lock(mutex_);
  const std::uint64_t flush = ++flushes_;
  for (auto it = slots_.begin(); it != slots_.end();) {
    if (it->second.flushed_in != 0 && it->second.flushed_in < flush) {
      it = slots_.erase(it);
    } else {
      it->second.flushed_in = flush;
      ++it;
    }
  }
  unflushed_ = 0;
}

void ConversationActivity::forget(const std::vector<std::string>& ids) {
  std::lock_guard lock(mutex_);
  for (const std::string& id : ids) {
    auto it = slots_.find(id);
    if (it == slots_.end()) continue;
    if (it->second.flushed_in == 0) --unflushed_;
    slots_.erase(it);
  }
}

std::vector<std::pair<std::string, ConversationActivity::Entry>>
ConversationActivity::unflushed() const {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::string, Entry>> out;
  out.reserve(unflushed_);
  for (const auto& [id, slot] : slots_) {
    if (slot.flushed_in == 0) out.emplace_back(id, slot.entry);
  }
  return out;
}

std::size_t ConversationActivity::unflushed_count() const {
  std::lock_guard lock(mutex_);
  return unflushed_;
}

std::int64_t ConversationActivity::last_seq(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = slots_.find(id);
  return it == slots_.end() ? 0 : it->second.entry.last_seq;
}

void ConversationActivity::overlay(ConversationRecord& record) const {
  std::lock_guard lock(mutex_);
  auto it = slots_.find(record.id);
  if (it == slots_.end()) return;
  record.last_seq = std::max(record.last_seq, it->second.entry.last_seq);
  record.updated_at_ms = std::max(record.updated_at_ms, it->second.entry.updated_at_ms);
}

std::size_t ConversationActivity::size() const {
  std::lock_guard lock(mutex_);
  return slots_.size();
}

Status catch_up_conversation_rows(Connection& db) {
  // One transaction: the rows and the mark move together or not at all.
  Status status = db.exec("BEGIN IMMEDIATE");
  if (!status.is_ok()) return status;
  status = db.exec(
      "UPDATE conversations SET last_seq = max(last_seq, t.seq), "
      "  updated_at_ms = max(updated_at_ms, t.at) "
      "FROM (SELECT conversation, max(seq) AS seq, max(created_at_ms) AS at FROM turns "
      "      WHERE id > (SELECT value FROM store_marks WHERE name = 'rows_count_turns_through') "
      "      GROUP BY conversation) AS t "
      "WHERE conversations.pk = t.conversation",
      "bring conversation rows up to their turns");
  if (status.is_ok()) status = db.exec(kMarkRowsCountTurnsSql, "mark the turns rows count");
  if (status.is_ok()) status = db.exec("COMMIT");
  if (!status.is_ok() && db.in_transaction()) static_cast<void>(db.exec("ROLLBACK"));
  return status;
}

}  // namespace handover::store
