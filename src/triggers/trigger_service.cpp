// The trigger service: rules holder, watcher and sharded per-conversation states.
#include "handover/triggers/trigger_service.hpp"

#include <functional>

#include "handover/util/clock.hpp"

namespace handover::triggers {

TriggerService::TriggerService(std::unique_ptr<RuleSetHolder> holder, const Clock& clock)
    : holder_(std::move(holder)), clock_(clock) {}

TriggerService::~TriggerService() {
  if (watcher_ != nullptr) watcher_->stop();
}

Result<std::unique_ptr<TriggerService>> TriggerService::open(TriggerServiceOptions options,
                                                             const Clock& clock) {
  auto holder = RuleSetHolder::open(options.rules_path, clock, options.keep_versions);
  if (!holder.is_ok()) return holder.status();
  std::unique_ptr<TriggerService> service(new TriggerService(std::move(holder).value(), clock));
  if (!options.watch) return service;
  service->watcher_ = std::make_unique<RuleWatcher>(*service->holder_, options.debounce,
                                                    std::move(options.on_reload));
  if (const Status started = service->watcher_->start(); !started.is_ok()) return started;
  return service;
}

TriggerService::Shard& TriggerService::shard(std::string_view conversation_id) const {
  return shards_[std::hash<std::string_view>{}(conversation_id) % kShards];
}

Evaluation TriggerService::evaluate(std::string_view conversation_id, const ConversationInfo& info,
                                    const TurnInput& turn) {
  const Engine engine = holder_->engine();
  Shard& s = shard(conversation_id);
  const std::lock_guard lock(s.mutex);
  auto it = s.states.find(conversation_id);
  if (it == s.states.end()) {
    it = s.states.emplace(std::string(conversation_id), ConversationState{}).first;
  }
  return engine.evaluate(info, it->second, turn, clock_.now_ms());
}

std::optional<ConversationState> TriggerService::state(std::string_view conversation_id) const {
  Shard& s = shard(conversation_id);
  const std::lock_guard lock(s.mutex);
  const auto it = s.states.find(conversation_id);
  if (it == s.states.end()) return std::nullopt;
  return it->second;
}

bool TriggerService::has_state(std::string_view conversation_id) const {
  Shard& s = shard(conversation_id);
  const std::lock_guard lock(s.mutex);
  return s.states.find(conversation_id) != s.states.end();
}

void TriggerService::restore(std::string_view conversation_id, const ConversationState& state) {
  Shard& s = shard(conversation_id);
  const std::lock_guard lock(s.mutex);
  s.states[std::string(conversation_id)] = state;
}

void TriggerService::forget(std::string_view conversation_id) {
  Shard& s = shard(conversation_id);
  const std::lock_guard lock(s.mutex);
  const auto it = s.states.find(conversation_id);
  if (it != s.states.end()) s.states.erase(it);
}

std::optional<std::int64_t> TriggerService::request_cooling_since(
    std::string_view conversation_id) const {
  const Engine engine = holder_->engine();
  Shard& s = shard(conversation_id);
  const std::lock_guard lock(s.mutex);
  const auto it = s.states.find(conversation_id);
  if (it == s.states.end()) return std::nullopt;
  return engine.request_cooling_since(it->second, clock_.now_ms());
}

void TriggerService::end_request_cooldowns(std::string_view conversation_id,
                                           std::int64_t at_ms) {
  const Engine engine = holder_->engine();
  Shard& s = shard(conversation_id);
  const std::lock_guard lock(s.mutex);
  const auto it = s.states.find(conversation_id);
  if (it != s.states.end()) engine.end_request_cooldowns(it->second, at_ms);
}

std::size_t TriggerService::open_conversations() const {
  std::size_t count = 0;
  for (const Shard& s : shards_) {
    const std::lock_guard lock(s.mutex);
    count += s.states.size();
  }
  return count;
}

}  // namespace handover::triggers
