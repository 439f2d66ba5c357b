// A rate limit for log lines that a peer or a failing disk can set off thousands of times a
// second: one line per interval, which then says how many were left out before it.
#pragma once

#include <cstdint>
#include <mutex>

namespace handover {

class LogThrottle {
 public:
  explicit LogThrottle(std::int64_t interval_ms = 1000) : interval_ms_(interval_ms) {}

  // Whether a line may be written at `now_ms` (any clock that does not go back). When it may,
  // `suppressed` is set to the number of lines refused since the last one admitted; when it
  // may not, the line is counted and `suppressed` is left alone. Thread-safe.
  bool admit(std::int64_t now_ms, std::uint64_t& suppressed);
  // The same on the steady clock.
  bool admit(std::uint64_t& suppressed);

 private:
  std::mutex mu_;
  const std::int64_t interval_ms_;
  bool written_ = false;
  std::int64_t last_ms_ = 0;
  std::uint64_t refused_ = 0;
};

}  // namespace handover
