// inotify on the rules file's directory, debounced, driving RuleSetHolder::reload_if_changed().
#include "handover/triggers/rule_watcher.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "handover/triggers/rule_set_holder.hpp"
#include "handover/util/thread_name.hpp"

namespace handover::triggers {
namespace {

constexpr std::uint32_t kWatchMask =
    IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB;

// Reads every pending event; true when one concerns `file_name`. Names starting with ".."
// count too: they are the data links that ConfigMap-style directories swap atomically.
// Other files in the directory (logs, say) must not keep postponing a reload.
bool drain(int fd, const std::string& file_name) {
  alignas(inotify_event) std::array<char, 4096> buffer;
  bool relevant = false;
  for (;;) {
    const ssize_t n = read(fd, buffer.data(), buffer.size());
    if (n <= 0) return relevant;
    for (ssize_t at = 0; at + static_cast<ssize_t>(sizeof(inotify_event)) <= n;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer.data() + at);
      const std::string name = event->len > 0 ? std::string(event->name) : std::string();
      if (name == file_name || name.rfind("..", 0) == 0 || (event->mask & IN_Q_OVERFLOW)) {
        relevant = true;
      }
      at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
    }
  }
}

}  // namespace

RuleWatcher::RuleWatcher(RuleSetHolder& holder, std::chrono::milliseconds debounce,
                         ReloadCallback on_reload)
    : holder_(holder), debounce_(debounce), on_reload_(std::move(on_reload)) {}

RuleWatcher::~RuleWatcher() { stop(); }

Status RuleWatcher::start() {
  inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  stop_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (inotify_fd_ < 0 || stop_fd_ < 0)
    return Status::internal(std::string("inotify: ") + std::strerror(errno));
  file_name_ = holder_.path().filename().string();
  std::filesystem::path directory = holder_.path().parent_path();
  if (directory.empty()) directory = ".";
  if (inotify_add_watch(inotify_fd_, directory.c_str(), kWatchMask) < 0) {
    return Status::internal("inotify: cannot watch " + directory.string() + ": " +
                            std::strerror(errno));
  }
  try {
    thread_ = std::thread([this] { run(); });
  } catch (const std::system_error& e) {
    return Status::internal(std::string("rule watcher thread: ") + e.what());
  }
  return Status::ok();
}

void RuleWatcher::stop() {
  if (thread_.joinable()) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto written = write(stop_fd_, &one, sizeof one);
    thread_.join();
  }
  for (int* fd : {&inotify_fd_, &stop_fd_}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
}

// Waits until the directory has been quiet for the debounce time; false when stopping.
bool RuleWatcher::wait_quiet() {
  for (;;) {
    std::array<pollfd, 2> fds{{{inotify_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}}};
    const int ready = poll(fds.data(), fds.size(), static_cast<int>(debounce_.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return ready == 0;
    if (fds[1].revents != 0) return false;
    if (!drain(inotify_fd_, file_name_)) return true;
  }
}

void RuleWatcher::run() {
  set_thread_name("rule-watcher");
  for (;;) {
    std::array<pollfd, 2> fds{{{inotify_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}}};
    const int ready = poll(fds.data(), fds.size(), -1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0 || fds[1].revents != 0) return;
    if (!drain(inotify_fd_, file_name_)) continue;
    if (!wait_quiet()) return;
    // A failed reload keeps the old rules; the holder records the error for the admin API.
    const Status status = holder_.reload_if_changed().status();
    if (on_reload_) on_reload_(status);
    ++attempts_;
  }
}

}  // namespace handover::triggers
