// One server per database file: an exclusive lock on a file beside the database.
#pragma once

#include <string>

#include "handover/util/status.hpp"

namespace handover::store {

// Holds an exclusive flock(2) on "<database path>-lock" from acquire() until destroyed. A
// second store on the same database, in this process or another, fails to acquire it, so two
// servers cannot route the same conversations; the kernel drops the lock with the process, so
// a crash leaves nothing to clean up. Not thread-safe; owned by one store.
class InstanceLock {
 public:
  // Unavailable, naming the database and the lock file, when another store holds it;
  // Internal when the lock file cannot be opened.
  static Result<InstanceLock> acquire(const std::string& database_path);

  InstanceLock() = default;
  InstanceLock(InstanceLock&& other) noexcept;
  InstanceLock& operator=(InstanceLock&& other) noexcept;
  InstanceLock(const InstanceLock&) = delete;
  InstanceLock& operator=(const InstanceLock&) = delete;
  ~InstanceLock();

 private:
  explicit InstanceLock(int fd) : fd_(fd) {}

  int fd_ = -1;
};

}  // namespace handover::store
