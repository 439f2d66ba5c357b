// The shutdown deadline: a condition variable and the name of the current step.
#include "shutdown_watch.hpp"

namespace handover::server {

void ShutdownWatch::step(std::string what) {
  std::lock_guard lock(mu_);
  step_ = std::move(what);
}

void ShutdownWatch::done() {
  {
    std::lock_guard lock(mu_);
    done_ = true;
  }
  stopped_.notify_all();
}

bool ShutdownWatch::wait(std::chrono::milliseconds limit, const GiveUp& give_up) {
  const auto started = std::chrono::steady_clock::now();
  std::unique_lock lock(mu_);
  if (stopped_.wait_for(lock, limit, [this] { return done_; })) return true;
  const std::string step = step_;
  lock.unlock();
  give_up(step, std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - started));
  return false;
}

}  // namespace handover::server
