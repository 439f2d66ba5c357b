#include "conversation_cache.hpp"

namespace handover::store {

std::optional<ConversationRecord> ConversationCache::find(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = rows_.find(id);
  if (it == rows_.end()) return std::nullopt;
  return it->second;
}

std::uint64_t ConversationCache::generation() const {
  std::lock_guard lock(mutex_);
  return generation_;
}

void ConversationCache::offer(const ConversationRecord& record, std::uint64_t read_in_generation) {
  if (capacity_ == 0) return;
  std::lock_guard lock(mutex_);
  if (read_in_generation != generation_) return;
  auto [it, added] = rows_.insert_or_assign(record.id, record);
  if (!added) return;
  arrival_.push_back(record.id);
  while (rows_.size() > capacity_) {
    rows_.erase(arrival_.front());
    arrival_.pop_front();
  }
}

void ConversationCache::begin_commit() {
  std::lock_guard lock(mutex_);
  ++generation_;
}

void ConversationCache::advance(const std::string& id, std::int64_t last_seq,
                                std::int64_t updated_at_ms, const std::string& state,
                                const std::optional<std::string>& metadata_json) {
  std::lock_guard lock(mutex_);
  auto it = rows_.find(id);
  if (it == rows_.end()) return;
  ConversationRecord& row = it->second;
  row.last_seq = last_seq;
  row.updated_at_ms = updated_at_ms;
  row.state = state;
  if (metadata_json) row.metadata_json = *metadata_json;
}

void ConversationCache::clear() {
  std::lock_guard lock(mutex_);
  ++generation_;
  rows_.clear();
  arrival_.clear();
}

std::size_t ConversationCache::size() const {
  std::lock_guard lock(mutex_);
  return rows_.size();
}

}  // namespace handover::store
