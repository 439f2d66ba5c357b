// One server per database file: exclusive locks on the database file and on a file beside it.
#pragma once

#include <string>

#include "handover/util/status.hpp"

namespace handover::store {

// Holds an exclusive flock(2) on the database file itself and one on "<database path>-lock"
// from acquire() until destroyed. A second store on the same database, in this process or
// another, fails to acquire them, so two servers cannot route the same conversations; the
// kernel drops the locks with the process, so a crash leaves nothing to clean up.
//
// The lock on the database file is what catches a second path to the same file (a symbolic
// or a hard link, a bind mount): the lock is the inode's, whatever name opened it. The
// "-lock" file is kept for servers of earlier versions, which take only that one. On Linux,
// flock locks are independent of the POSIX (fcntl) locks SQLite takes on the same file, and
// belong to our open file description, so SQLite closing its own descriptors does not drop
// them. (On NFS flock is emulated with fcntl locks; SQLite in WAL mode needs a local disk.)
// Not thread-safe; owned by one store.
class InstanceLock {
 public:
  // Unavailable, naming the database and the lock file, when another store holds it;
  // Internal when the database or the lock file cannot be opened. Creates the database file
  // (empty, which SQLite reads as a new database) when it does not exist.
  static Result<InstanceLock> acquire(const std::string& database_path);

  InstanceLock() = default;
  InstanceLock(InstanceLock&& other) noexcept;
  InstanceLock& operator=(InstanceLock&& other) noexcept;
  InstanceLock(const InstanceLock&) = delete;
  InstanceLock& operator=(const InstanceLock&) = delete;
  ~InstanceLock();

 private:
  InstanceLock(int lock_file_fd, int database_fd)
      : lock_file_fd_(lock_file_fd), database_fd_(database_fd) {}
  void release();

  int lock_file_fd_ = -1;
  int database_fd_ = -1;
};

}  // namespace handover::store
