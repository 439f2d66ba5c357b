// Wall-clock time source, injected so tests can control time.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace handover {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch. Thread-safe.
  virtual std::int64_t now_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::int64_t now_ms() const override;
  // A process-wide instance; never destroyed.
  static const SystemClock& instance();
};

// A clock that only moves when told to. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(std::int64_t start_ms = 1'700'000'000'000) : now_(start_ms) {}
  std::int64_t now_ms() const override { return now_.load(); }
  void advance_ms(std::int64_t ms) { now_ += ms; }
  void set_ms(std::int64_t ms) { now_ = ms; }

 private:
  std::atomic<std::int64_t> now_;
};

// RFC 3339 UTC timestamp with milliseconds, e.g. "2026-12-04T14:25:06.123Z".
std::string format_rfc3339_ms(std::int64_t epoch_ms);

// Parses an RFC 3339 timestamp ("2026-12-04T14:25:06Z", "...06.123+01:00"; 'T' or 't', 'Z' or
// 'z'; fractions beyond milliseconds are truncated) or, when `allow_date` is set, a bare date
// ("2026-12-04", midnight UTC) into milliseconds since the epoch. nullopt for anything else,
// including out-of-range fields (month 13, 31 April, hour 24) and leap seconds.
std::optional<std::int64_t> parse_rfc3339_ms(std::string_view text, bool allow_date = false);

}  // namespace handover
