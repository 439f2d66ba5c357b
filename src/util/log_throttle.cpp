// One admitted log line per interval, counting the rest.
#include "handover/util/log_throttle.hpp"

#include <chrono>

namespace handover {

bool LogThrottle::admit(std::int64_t now_ms, std::uint64_t& suppressed) {
  std::lock_guard lock(mu_);
  if (written_ && now_ms - last_ms_ < interval_ms_) {
    ++refused_;
    return false;
  }
  written_ = true;
  last_ms_ = now_ms;
  suppressed = refused_;
  refused_ = 0;
  return true;
}

bool LogThrottle::admit(std::uint64_t& suppressed) {
  const auto now = std::chrono::steady_clock::now().time_since_epoch();
  return admit(std::chrono::duration_cast<std::chrono::milliseconds>(now).count(), suppressed);
}

}  // namespace handover
