#include "conversation_activity.hpp"

#include <algorithm>
#include <iterator>

namespace handover::store {

void ConversationActivity::record(const std::string& id, const Entry& entry) {
  std::lock_guard lock(mutex_);
  auto [it, added] = slots_.try_emplace(id);
  Slot& slot = it->second;
  slot.entry.pk = entry.pk;
  slot.entry.last_seq = std::max(slot.entry.last_seq, entry.last_seq);
  slot.entry.updated_at_ms = std::max(slot.entry.updated_at_ms, entry.updated_at_ms);
  if (added || slot.written_in != 0) ++unflushed_;
  slot.written_in = 0;
}

void ConversationActivity::forget(const std::vector<std::string>& ids) {
  std::lock_guard lock(mutex_);
  for (const std::string& id : ids) {
    auto it = slots_.find(id);
    if (it == slots_.end()) continue;
    if (it->second.written_in == 0) --unflushed_;
    slots_.erase(it);
  }
}

void ConversationActivity::written(const std::vector<std::string>& ids) {
  std::lock_guard lock(mutex_);
  for (const std::string& id : ids) {
    auto it = slots_.find(id);
    if (it == slots_.end() || it->second.written_in != 0) continue;
    it->second.written_in = round_;
    --unflushed_;
  }
}

void ConversationActivity::finish_round() {
  std::lock_guard lock(mutex_);
  finish_round_locked();
}

void ConversationActivity::finish_round_locked() {
  for (auto it = slots_.begin(); it != slots_.end();) {
    const std::uint64_t written_in = it->second.written_in;
    it = written_in != 0 && written_in < round_ ? slots_.erase(it) : std::next(it);
  }
  ++round_;
}

void ConversationActivity::mark_flushed() {
  std::lock_guard lock(mutex_);
  for (auto& [id, slot] : slots_) {
    if (slot.written_in == 0) slot.written_in = round_;
  }
  unflushed_ = 0;
  finish_round_locked();
}

std::vector<std::pair<std::string, ConversationActivity::Entry>>
ConversationActivity::unflushed() const {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::string, Entry>> out;
  out.reserve(unflushed_);
  for (const auto& [id, slot] : slots_) {
    if (slot.written_in == 0) out.emplace_back(id, slot.entry);
  }
  return out;
}

std::size_t ConversationActivity::unflushed_count() const {
  std::lock_guard lock(mutex_);
  return unflushed_;
}

std::optional<ConversationActivity::Entry> ConversationActivity::current(
    const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = slots_.find(id);
  if (it == slots_.end()) return std::nullopt;
  return it->second.entry;
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
  if (status.is_ok()) {
    status = db.exec(
        "UPDATE store_marks SET value = (SELECT coalesce(max(id), 0) FROM turns) "
        "WHERE name = 'rows_count_turns_through'",
        "mark the turns the rows count");
  }
  if (status.is_ok()) status = db.exec("COMMIT");
  if (!status.is_ok() && db.in_transaction()) static_cast<void>(db.exec("ROLLBACK"));
  return status;
}

}  // namespace handover::store
