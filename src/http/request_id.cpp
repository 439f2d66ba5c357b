// Request ids that are cheap to make: one random draw per process, then a counter.
#include "request_id.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <random>

namespace handover::http {
namespace {

// Six hex digits, so ids of processes that share a log stay apart.
std::string_view process_prefix() {
  static const std::string prefix = [] {
    std::random_device source;
    char buf[6];
    std::uint32_t bits = source();
    for (char& c : buf) {
      c = "0123456789abcdef"[bits & 0xf];
      bits >>= 4;
    }
    return std::string(buf, sizeof buf);
  }();
  return prefix;
}

std::atomic<std::uint64_t> next_number{1};

}  // namespace

bool is_acceptable_request_id(std::string_view id) {
  return !id.empty() && id.size() <= kMaxRequestIdLength &&
         std::all_of(id.begin(), id.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

void next_request_id(std::string& out) {
  char digits[16];
  const std::uint64_t number = next_number.fetch_add(1, std::memory_order_relaxed);
  const auto end = std::to_chars(digits, digits + sizeof digits, number, 16).ptr;
  out.assign(process_prefix());
  out += '-';
  out.append(digits, end);
}

}  // namespace handover::http
