// A progress bar on standard error, drawn only when it is a terminal.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace handover::replay {

class Progress {
 public:
  // `total_bytes` 0 means unknown (standard input): the bar then shows counts only.
  Progress(bool enabled, std::uint64_t total_bytes);
  ~Progress();  // clears the bar

  // Redraws at most ten times a second. Cheap to call per conversation.
  void update(std::uint64_t bytes, std::uint64_t conversations);
  void finish();

  static bool stderr_is_terminal();

 private:
  bool enabled_;
  std::uint64_t total_;
  std::chrono::steady_clock::time_point last_{};
  bool drawn_ = false;
};

}  // namespace handover::replay
