// System clock and RFC 3339 formatting and parsing.
#include "handover/util/clock.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace handover {

std::int64_t SystemClock::now_ms() const {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

const SystemClock& SystemClock::instance() {
  static const SystemClock* clock = new SystemClock();
  return *clock;
}

namespace {

// Years outside 0000-9999, which the fixed layout below cannot hold.
std::string format_rfc3339_ms_slow(std::int64_t epoch_ms) {
  std::int64_t secs = epoch_ms / 1000;
  std::int64_t millis = epoch_ms % 1000;
  if (millis < 0) {
    millis += 1000;
    secs -= 1;
  }
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  return buf;
}

}  // namespace

std::string format_rfc3339_ms(std::int64_t epoch_ms) {
  // Written digit by digit: this runs several times for every stored turn, and snprintf was
  // most of its cost.
  using namespace std::chrono;
  const sys_time<milliseconds> at{milliseconds(epoch_ms)};
  const sys_days day = floor<days>(at);
  const year_month_day date(day);
  const int year = static_cast<int>(date.year());
  if (year < 0 || year > 9999) return format_rfc3339_ms_slow(epoch_ms);
  const hh_mm_ss<milliseconds> time(at - day);

  char buf[] = "0000-00-00T00:00:00.000Z";
  const auto put = [&buf](std::size_t pos, std::size_t width, long long value) {
    for (std::size_t i = width; i-- > 0; value /= 10) {
      buf[pos + i] = static_cast<char>('0' + value % 10);
    }
  };
  put(0, 4, year);
  put(5, 2, static_cast<unsigned>(date.month()));
  put(8, 2, static_cast<unsigned>(date.day()));
  put(11, 2, time.hours().count());
  put(14, 2, time.minutes().count());
  put(17, 2, time.seconds().count());
  put(20, 3, time.subseconds().count());
  return std::string(buf, sizeof buf - 1);
}

namespace {

// Digits at text[pos, pos + n) as a number; -1 when any is not a digit.
int digits(std::string_view text, std::size_t pos, std::size_t n) {
  if (pos + n > text.size()) return -1;
  int value = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (text[i] < '0' || text[i] > '9') return -1;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

bool leap_year(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int days_in_month(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && leap_year(year) ? 29 : kDays[month - 1];
}

// Days from 1970-01-01 to the civil date (proleptic Gregorian), after H. Hinnant's
// days_from_civil.
std::int64_t days_from_civil(int y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<std::int64_t>(y - era * 400);
  const std::int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// Reads "HH:MM:SS[.fff...](Z|+HH:MM|-HH:MM)" at `pos`; the time of day plus the offset
// correction in milliseconds, or nullopt.
std::optional<std::int64_t> time_of_day_ms(std::string_view text, std::size_t pos) {
  const int hour = digits(text, pos, 2);
  const int minute = digits(text, pos + 3, 2);
  const int second = digits(text, pos + 6, 2);
  if (hour < 0 || minute < 0 || second < 0 || text[pos + 2] != ':' || text[pos + 5] != ':' ||
      hour > 23 || minute > 59 || second > 59) {
    return std::nullopt;
  }
  pos += 8;
  int millis = 0;
  if (pos < text.size() && text[pos] == '.') {
    std::size_t end = ++pos;
    while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
    if (end == pos) return std::nullopt;
    for (std::size_t i = 0; i < 3; ++i) {
      millis = millis * 10 + (pos + i < end ? text[pos + i] - '0' : 0);
    }
    pos = end;
  }
  std::int64_t ms = ((hour * 60LL + minute) * 60 + second) * 1000 + millis;
  if (pos + 1 == text.size() && (text[pos] == 'Z' || text[pos] == 'z')) return ms;
  if (pos + 6 != text.size() || (text[pos] != '+' && text[pos] != '-') || text[pos + 3] != ':') {
    return std::nullopt;
  }
  const int offset_h = digits(text, pos + 1, 2);
  const int offset_m = digits(text, pos + 4, 2);
  if (offset_h < 0 || offset_m < 0 || offset_h > 23 || offset_m > 59) return std::nullopt;
  const std::int64_t offset_ms = (offset_h * 60LL + offset_m) * 60'000;
  return text[pos] == '+' ? ms - offset_ms : ms + offset_ms;
}

}  // namespace

std::optional<std::int64_t> parse_rfc3339_ms(std::string_view text, bool allow_date) {
  const int year = digits(text, 0, 4);
  const int month = digits(text, 5, 2);
  const int day = digits(text, 8, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || text[4] != '-' || text[7] != '-' ||
      day > days_in_month(year, month)) {
    return std::nullopt;
  }
  const std::int64_t midnight_ms = days_from_civil(year, month, day) * 86'400'000;
  if (text.size() == 10) return allow_date ? std::optional(midnight_ms) : std::nullopt;
  if (text.size() < 20 || (text[10] != 'T' && text[10] != 't')) return std::nullopt;
  const auto time = time_of_day_ms(text, 11);
  if (!time) return std::nullopt;
  return midnight_ms + *time;
}

}  // namespace handover
