// Reloads the rules when their file changes, watching its directory with inotify.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "handover/util/status.hpp"

namespace handover::triggers {

class RuleSetHolder;

// Watches the directory of the holder's rules file, so editors that save by renaming and
// swapped symlinks (Kubernetes ConfigMaps) are seen. Any change there is followed, after
// `debounce` without further changes, by RuleSetHolder::reload(); a failed reload keeps the
// old rules (see the holder's status). Runs one thread between start() and stop().
class RuleWatcher {
 public:
  // Called on the watcher's thread after every reload attempt, e.g. to log the outcome.
  using ReloadCallback = std::function<void(const Status&)>;

  RuleWatcher(RuleSetHolder& holder, std::chrono::milliseconds debounce,
              ReloadCallback on_reload = {});
  ~RuleWatcher();  // stops the thread
  RuleWatcher(const RuleWatcher&) = delete;
  RuleWatcher& operator=(const RuleWatcher&) = delete;

  // Starts watching. kInternal when inotify or the thread cannot be set up. Call once.
  Status start();
  // Stops and joins the thread. Safe to call twice.
  void stop();

  // Reload attempts made so far; lets tests wait for the watcher without sleeping blindly.
  std::uint64_t reload_attempts() const { return attempts_.load(); }

 private:
  void run();
  bool wait_quiet();

  RuleSetHolder& holder_;
  std::chrono::milliseconds debounce_;
  ReloadCallback on_reload_;
  std::string file_name_;  // the rules file's name inside the watched directory
  int inotify_fd_ = -1;
  int stop_fd_ = -1;
  std::atomic<std::uint64_t> attempts_{0};
  std::thread thread_;
};

}  // namespace handover::triggers
