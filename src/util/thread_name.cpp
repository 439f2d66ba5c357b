#include "handover/util/thread_name.hpp"

#include <pthread.h>

#include <algorithm>

namespace handover {
namespace {

// Linux refuses names longer than 15 bytes (16 with the terminating NUL).
constexpr std::size_t kMaxName = 15;

}  // namespace

void set_thread_name(std::string_view name) {
  const std::string kept(name.substr(0, std::min(name.size(), kMaxName)));
  static_cast<void>(pthread_setname_np(pthread_self(), kept.c_str()));
}

std::string thread_name() {
  char buffer[kMaxName + 1] = {};
  if (pthread_getname_np(pthread_self(), buffer, sizeof buffer) != 0) return std::string();
  return std::string(buffer);
}

}  // namespace handover
