// The active rule set, its history, and reload bookkeeping.
#include "handover/triggers/rule_set_holder.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "handover/util/clock.hpp"
#include "handover/util/utf8.hpp"

namespace handover::triggers {

RuleSetHolder::RuleSetHolder(std::filesystem::path path, const Clock& clock, std::size_t keep)
    : path_(std::move(path)), clock_(clock), keep_(std::max<std::size_t>(keep, 1)) {}

Result<std::unique_ptr<RuleSetHolder>> RuleSetHolder::open(std::filesystem::path path,
                                                           const Clock& clock, std::size_t keep) {
  auto loaded = load_rule_set(path, clock.now_ms());
  if (!loaded.is_ok()) return loaded.status();
  std::unique_ptr<RuleSetHolder> holder(new RuleSetHolder(std::move(path), clock, keep));
  const std::lock_guard lock(holder->mutex_);
  holder->file_hash_ = loaded.value()->version().hash;
  holder->activate_locked(std::move(loaded).value());
  holder->status_.reloads_ok = 1;
  return holder;
}

void RuleSetHolder::activate_locked(std::shared_ptr<const RuleSet> rule_set) {
  status_.active = rule_set->version();
  const auto same = [&](const auto& kept) {
    return kept->version().hash == rule_set->version().hash;
  };
  history_.erase(std::remove_if(history_.begin(), history_.end(), same), history_.end());
  history_.push_back(rule_set);
  while (history_.size() > keep_) history_.pop_front();
  active_.store(std::move(rule_set));
}

Result<ReloadOutcome> RuleSetHolder::reload() { return reload_file(/*only_if_changed=*/false); }

Result<ReloadOutcome> RuleSetHolder::reload_if_changed() {
  return reload_file(/*only_if_changed=*/true);
}

void RuleSetHolder::set_reload_listener(ReloadListener listener) {
  const std::lock_guard lock(mutex_);
  listener_ = std::move(listener);
}

void RuleSetHolder::set_reload_check(ReloadCheck check) {
  const std::lock_guard lock(mutex_);
  check_ = std::move(check);
}

Result<ReloadOutcome> RuleSetHolder::reload_file(bool only_if_changed) {
  auto loaded = load_rule_set(path_, clock_.now_ms());
  ReloadListener listener;
  Result<ReloadOutcome> outcome = [&] {
    const std::lock_guard lock(mutex_);
    listener = listener_;
    return reload_locked(std::move(loaded), only_if_changed);
  }();
  if (listener) listener(outcome);
  return outcome;
}

Result<ReloadOutcome> RuleSetHolder::reload_locked(Result<std::shared_ptr<const RuleSet>> loaded,
                                                   bool only_if_changed) {
  if (loaded.is_ok() && check_) {
    if (Status checked = check_(*loaded.value()); !checked.is_ok()) loaded = checked;
  }
  if (!loaded.is_ok()) {
    // GET /v1/admin/rules answers it as JSON, whatever the bytes of the file it quotes.
    Status failed(loaded.status().code(), utf8::repair(loaded.status().message()));
    status_.last_error = failed.message();
    status_.last_error_at_ms = clock_.now_ms();
    ++status_.reloads_failed;
    return failed;
  }
  status_.last_error.reset();
  ReloadOutcome outcome;
  outcome.previous_hash = status_.active.hash;
  outcome.hash = status_.active.hash;
  outcome.warnings = loaded.value()->warnings();
  const std::string hash = loaded.value()->version().hash;
  if (only_if_changed && hash == file_hash_) return outcome;
  file_hash_ = hash;
  ++status_.reloads_ok;
  if (hash == status_.active.hash) return outcome;
  activate_locked(std::move(loaded).value());
  outcome.hash = hash;
  outcome.changed = true;
  return outcome;
}

Status RuleSetHolder::rollback(std::string_view hash) {
  const std::lock_guard lock(mutex_);
  std::shared_ptr<const RuleSet> target;
  if (hash.empty()) {
    if (history_.size() >= 2) target = history_[history_.size() - 2];
  } else {
    for (const auto& kept : history_) {
      if (kept->version().hash == hash) target = kept;
    }
  }
  if (target == nullptr)
    return Status::not_found("no kept rule set version '" + std::string(hash) + "'");
  activate_locked(std::move(target));
  return Status::ok();
}

ReloadStatus RuleSetHolder::status() const {
  const std::lock_guard lock(mutex_);
  ReloadStatus copy = status_;
  copy.warnings = active_.load()->warnings();
  copy.history.clear();
  for (const auto& kept : history_) copy.history.push_back(kept->version());
  return copy;
}

namespace {

nlohmann::json version_json(const RuleSetVersion& version) {
  return {{"hash", version.hash},
          {"loaded_at", format_rfc3339_ms(version.loaded_at_ms)},
          {"path", version.path}};
}

}  // namespace

nlohmann::json to_json(const ReloadStatus& status) {
  nlohmann::json history = nlohmann::json::array();
  for (const RuleSetVersion& version : status.history) history.push_back(version_json(version));
  nlohmann::json out = {{"active", version_json(status.active)},
                        {"last_error", nullptr},
                        {"reloads_ok", status.reloads_ok},
                        {"reloads_failed", status.reloads_failed},
                        {"history", std::move(history)},
                        {"warnings", status.warnings}};
  if (status.last_error) {
    out["last_error"] = *status.last_error;
    out["last_error_at"] = format_rfc3339_ms(status.last_error_at_ms);
  }
  return out;
}

}  // namespace handover::triggers
