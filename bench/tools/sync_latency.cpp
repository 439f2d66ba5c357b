// How long the disk under a directory takes to make small appends durable: appends `bytes` to a
// file and fdatasyncs it, `rate` times a second for `seconds`, as the store's writer does once
// per commit under a paced load. Prints one JSON line with the latency percentiles.
//
// It also reports how late the loop woke for each sync that was due after the previous one
// had ended ("wake_*"): on an otherwise quiet machine that is the time the host did not run
// this virtual CPU, which delays a server's answers just as a slow sync does.
//
// A durable server can answer no faster than its disk syncs, so the bench prints this beside
// its latency goals: a disk that stalls a sync for tens of milliseconds now and then shows up
// here as it does in the server's p99.9.
//
//   sync_latency DIR [seconds=10] [rate=1000] [bytes=8192]
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto index = static_cast<std::size_t>(p / 100.0 * static_cast<double>(sorted.size() - 1));
  return sorted[index];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR [seconds] [rate] [bytes]\n", argv[0]);
    return 2;
  }
  const std::string path = std::string(argv[1]) + "/sync-latency.tmp";
  const double seconds = argc > 2 ? std::atof(argv[2]) : 10;
  const double rate = argc > 3 ? std::atof(argv[3]) : 1000;
  const long bytes = argc > 4 ? std::atol(argv[4]) : 8192;
  if (seconds <= 0 || rate <= 0 || bytes <= 0) {
    std::fprintf(stderr, "seconds, rate and bytes must be positive\n");
    return 2;
  }

  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::perror(path.c_str());
    return 1;
  }
  const std::vector<char> block(static_cast<std::size_t>(bytes), 'x');
  std::vector<double> ms;
  std::vector<double> late_ms;  // woke after `due`, the previous sync having ended before it
  const auto interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(1.0 / rate));
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(seconds));
  off_t offset = 0;
  int failures = 0;
  auto previous_end = start;
  for (auto due = start; due < end; due += interval) {
    std::this_thread::sleep_until(due);
    const auto before = Clock::now();
    if (previous_end < due) {
      late_ms.push_back(std::chrono::duration<double, std::milli>(before - due).count());
    }
    const bool ok = ::pwrite(fd, block.data(), block.size(), offset) == bytes &&
                    ::fdatasync(fd) == 0;
    const auto after = Clock::now();
    previous_end = after;
    if (!ok) {
      ++failures;
      continue;
    }
    offset += bytes;
    ms.push_back(std::chrono::duration<double, std::milli>(after - before).count());
  }
  ::close(fd);
  ::unlink(path.c_str());

  std::sort(ms.begin(), ms.end());
  std::sort(late_ms.begin(), late_ms.end());
  const auto over = [](const std::vector<double>& sorted, double limit) {
    return static_cast<long>(sorted.end() - std::upper_bound(sorted.begin(), sorted.end(), limit));
  };
  std::printf(
      "{\"syncs\":%zu,\"failures\":%d,\"bytes\":%ld,\"rate\":%.0f,\"p50_ms\":%.3f,"
      "\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,\"over_5ms\":%ld,\"over_20ms\":%ld,"
      "\"wakes\":%zu,\"wake_p999_ms\":%.3f,\"wake_max_ms\":%.3f,\"wake_over_2ms\":%ld}\n",
      ms.size(), failures, bytes, rate, percentile(ms, 50), percentile(ms, 99),
      percentile(ms, 99.9), ms.empty() ? 0.0 : ms.back(), over(ms, 5), over(ms, 20),
      late_ms.size(), percentile(late_ms, 99.9), late_ms.empty() ? 0.0 : late_ms.back(),
      over(late_ms, 2));
  return failures == 0 ? 0 : 1;
}
