// The process's limit on open file descriptors, which bounds how many connections it can hold.
#pragma once

#include <cstdint>

#include "handover/util/status.hpp"

namespace handover {

struct OpenFileLimit {
  std::uint64_t previous = 0;  // the soft limit before
  std::uint64_t soft = 0;      // the soft limit now
  std::uint64_t hard = 0;
};

// Raises the soft RLIMIT_NOFILE to the hard one: many systems start services at a soft 1024,
// far below what a server of thousands of connections needs. When the kernel refuses (a hard
// limit of "unlimited" is above fs.nr_open), the soft limit stays and `soft` says so.
// Internal when the limits cannot be read. Call at start-up, before other threads open files.
Result<OpenFileLimit> raise_open_file_limit();

}  // namespace handover
