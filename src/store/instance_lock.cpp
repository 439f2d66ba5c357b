// The database file's instance lock.
#include "instance_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>
#include <utility>

namespace handover::store {
namespace {

using FileId = std::pair<dev_t, ino_t>;

// The database files this process holds locked. Closing any descriptor of a file drops the
// POSIX locks the process holds on it, SQLite's included, so a second store in this process
// must be refused before it opens the file: only then is the check by flock alone safe.
std::mutex g_mu;
std::set<FileId> g_locked;

Status refused(const std::string& database_path, const std::string& held) {
  return Status::unavailable("store: another handover server is using " + database_path +
                             " (it holds " + held + "); run one server per database");
}

// An exclusive flock on `path`, opened (and created) read-write; the descriptor on success.
Result<int> lock_exclusively(const std::string& path, const std::string& database_path,
                             mode_t mode) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, mode);
  if (fd < 0) return Status::internal("store: cannot open " + path + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    ::close(fd);
    if (error == EWOULDBLOCK) return refused(database_path, path);
    return Status::internal("store: cannot lock " + path + ": " + std::strerror(error));
  }
  return fd;
}

FileId file_id(int fd) {
  struct stat st {};
  ::fstat(fd, &st);
  return {st.st_dev, st.st_ino};
}

}  // namespace

Result<InstanceLock> InstanceLock::acquire(const std::string& database_path) {
  std::lock_guard lock(g_mu);
  if (struct stat st {}; ::stat(database_path.c_str(), &st) == 0 &&
                         g_locked.count({st.st_dev, st.st_ino}) > 0) {
    return refused(database_path, database_path);
  }
  Result<int> lock_file = lock_exclusively(database_path + "-lock", database_path, 0600);
  if (!lock_file) return lock_file.status();
  // SQLite creates a database 0644 less the umask; so do we, for the same file.
  Result<int> database = lock_exclusively(database_path, database_path, 0644);
  if (!database) {
    ::close(*lock_file);
    return database.status();
  }
  g_locked.insert(file_id(*database));
  return InstanceLock(*lock_file, *database);
}

InstanceLock::InstanceLock(InstanceLock&& other) noexcept
    : lock_file_fd_(std::exchange(other.lock_file_fd_, -1)),
      database_fd_(std::exchange(other.database_fd_, -1)) {}

InstanceLock& InstanceLock::operator=(InstanceLock&& other) noexcept {
  if (this != &other) {
    release();
    lock_file_fd_ = std::exchange(other.lock_file_fd_, -1);
    database_fd_ = std::exchange(other.database_fd_, -1);
  }
  return *this;
}

InstanceLock::~InstanceLock() { release(); }

// Closing the last descriptor releases a flock. The store closes SQLite's connections first.
void InstanceLock::release() {
  if (database_fd_ >= 0) {
    std::lock_guard lock(g_mu);
    g_locked.erase(file_id(database_fd_));
    ::close(database_fd_);
    database_fd_ = -1;
  }
  if (lock_file_fd_ >= 0) ::close(lock_file_fd_);
  lock_file_fd_ = -1;
}

}  // namespace handover::store
