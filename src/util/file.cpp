// Whole-file reads with an fstat check first, for config files anyone may point anywhere.
#include "handover/util/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

namespace handover::files {
namespace {

// Closes the descriptor when the read is done, whichever way it ends.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "a special file";
}

Status too_large(std::size_t max_bytes) {
  return Status::invalid_argument("larger than the limit of " + std::to_string(max_bytes) +
                                  " bytes");
}

}  // namespace

Result<std::string> read_regular_file(const std::filesystem::path& path, std::size_t max_bytes) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  const FileDescriptor fd(open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) {
    const int error = errno;
    if (error == ENOENT) return Status::not_found("no such file");
    return Status::invalid_argument(std::string("cannot open: ") + std::strerror(error));
  }
  struct stat info {};
  if (fstat(fd.get(), &info) != 0)
    return Status::internal(std::string("cannot stat: ") + std::strerror(errno));
  if (!S_ISREG(info.st_mode))
    return Status::invalid_argument(std::string("is ") + kind_of(info.st_mode) + ", not a file");
  if (static_cast<std::uint64_t>(info.st_size) > max_bytes) return too_large(max_bytes);

  std::string content(static_cast<std::size_t>(info.st_size), '\0');
  std::size_t filled = 0;
  // A file that grows while it is read is refused at the limit, not read without end.
  for (;;) {
    if (filled == content.size()) {
      if (content.size() > max_bytes) break;
      content.resize(std::min(max_bytes + 1, content.size() + 4096));
    }
    const ssize_t n = read(fd.get(), content.data() + filled, content.size() - filled);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::internal(std::string("cannot read: ") + std::strerror(errno));
    if (n == 0) break;
    filled += static_cast<std::size_t>(n);
  }
  if (filled > max_bytes) return too_large(max_bytes);
  content.resize(filled);
  return content;
}

}  // namespace handover::files
