// A deadline for the stop that follows a shutdown signal, and what the stop was waiting for
// when it passed.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <utility>

namespace handover::server {

// The stopping thread names each step before it waits for it (step()) and calls done() once
// stopped; another thread waits (wait()) for done() up to a deadline. Thread-safe.
class ShutdownWatch {
 public:
  using GiveUp = std::function<void(const std::string& step, std::chrono::milliseconds waited)>;

  explicit ShutdownWatch(std::string first_step) : step_(std::move(first_step)) {}

  void step(std::string what);
  void done();
  // True once done() was called, within `limit` of this call. Otherwise calls `give_up` with
  // the step under way and how long this call waited (give_up may end the process), and
  // returns false.
  bool wait(std::chrono::milliseconds limit, const GiveUp& give_up);

 private:
  std::mutex mu_;
  std::condition_variable stopped_;
  std::string step_;   // guarded by mu_
  bool done_ = false;  // guarded by mu_
};

}  // namespace handover::server
