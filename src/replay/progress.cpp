// Terminal progress bar for long replays.
#include "progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace handover::replay {

Progress::Progress(bool enabled, std::uint64_t total_bytes)
    : enabled_(enabled && stderr_is_terminal()), total_(total_bytes) {}

Progress::~Progress() { finish(); }

bool Progress::stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

void Progress::update(std::uint64_t bytes, std::uint64_t conversations) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  drawn_ = true;
  constexpr int kWidth = 30;
  if (total_ == 0) {
    std::fprintf(stderr, "\r  %llu conversations", static_cast<unsigned long long>(conversations));
    return;
  }
  const double share = std::min(1.0, static_cast<double>(bytes) / static_cast<double>(total_));
  const int filled = static_cast<int>(share * kWidth);
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.append(static_cast<std::size_t>(kWidth - filled), '.');
  std::fprintf(stderr, "\r  [%s] %3d%%  %llu conversations", bar.c_str(),
               static_cast<int>(share * 100), static_cast<unsigned long long>(conversations));
}

void Progress::finish() {
  if (!enabled_ || !drawn_) return;
  std::fprintf(stderr, "\r%*s\r", 70, "");
  drawn_ = false;
}

}  // namespace handover::replay
