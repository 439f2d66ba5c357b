// The WAL checkpoint thread.
#include "checkpointer.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <utility>

#include "handover/util/scheduling.hpp"
#include "page_cache.hpp"
#include "handover/util/thread_name.hpp"

namespace handover::store {
namespace {

// Pacing the checkpoint thread's writes. SQLite's unix VFS lets a program replace the system
// calls it makes; the replacement of pwrite passes every write on and, on a checkpoint thread
// only, writes the file out after every kWritebackBytes (Checkpointer::sync_slice()). The
// thread's own fd is not needed: SQLite hands it to every write.
using PwriteFunction = ssize_t (*)(int, const void*, size_t, off_t);
PwriteFunction g_system_pwrite = nullptr;  // set once, before any paced write
std::atomic<Checkpointer::SliceSync> g_slice_sync{&Checkpointer::sync_slice};

struct PacedWrites {
  const Checkpointer* owner = nullptr;  // null on every other thread
  std::size_t since_writeback = 0;
};
thread_local PacedWrites t_paced;

ssize_t paced_pwrite(int fd, const void* data, size_t size, off_t offset) {
  const ssize_t written = g_system_pwrite(fd, data, size, offset);
  if (t_paced.owner == nullptr || written <= 0) return written;
  t_paced.since_writeback += static_cast<std::size_t>(written);
  if (t_paced.since_writeback >= Checkpointer::kWritebackBytes) {
    t_paced.since_writeback = 0;
    // The kernel reports a failed writeback to one sync per open file only. This one shares
    // SQLite's fd, so its failure must fail the write: SQLite's own sync at the end of the
    // checkpoint would report success, and the WAL would start over on pages never written.
    const bool flush = t_paced.owner->flushes_slices();
    if (g_slice_sync.load(std::memory_order_relaxed)(fd, flush) != 0) return -1;  // errno as set
    t_paced.owner->count_slice(flush);
  }
  return written;
}

// Installs paced_pwrite in the default VFS, once per process. Without it (a VFS that does not
// let its calls be replaced) checkpoints still work, unpaced.
void install_paced_writes() {
  static std::once_flag once;
  std::call_once(once, [] {
    install_page_cache();  // before SQLite initialises itself
    sqlite3_vfs* vfs = sqlite3_vfs_find(nullptr);
    for (const char* name : {"pwrite64", "pwrite"}) {
      if (vfs == nullptr || vfs->xGetSystemCall == nullptr) break;
      sqlite3_syscall_ptr current = vfs->xGetSystemCall(vfs, name);
      if (current == nullptr) continue;
      g_system_pwrite = reinterpret_cast<PwriteFunction>(current);
      if (vfs->xSetSystemCall(vfs, name, reinterpret_cast<sqlite3_syscall_ptr>(&paced_pwrite)) ==
          SQLITE_OK) {
        return;
      }
    }
    spdlog::warn("store: checkpoints write unpaced (the SQLite VFS keeps its own pwrite)");
  });
}

// Paces the calling thread's writes while it lives.
class PacingScope {
 public:
  explicit PacingScope(const Checkpointer& owner) {
    t_paced.owner = &owner;
    t_paced.since_writeback = 0;
  }
  ~PacingScope() { t_paced.owner = nullptr; }
  PacingScope(const PacingScope&) = delete;
  PacingScope& operator=(const PacingScope&) = delete;
};

}  // namespace

Result<std::unique_ptr<Checkpointer>> Checkpointer::start(const std::string& path,
                                                          const std::string& synchronous,
                                                          int busy_timeout_ms,
                                                          int checkpoint_frames) {
  install_paced_writes();
  Result<Connection> db = Connection::open(path, Connection::Mode::kReadWrite, busy_timeout_ms);
  if (!db) return db.status();
  // A checkpoint syncs the database file as the writer's mode says it must.
  Status mode =
      db->exec(synchronous == "full" ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
  if (!mode.is_ok()) return mode;

  std::unique_ptr<Checkpointer> checkpointer(
      new Checkpointer(std::move(db).value(), std::max(checkpoint_frames, 4)));
  checkpointer->thread_ = std::thread([raw = checkpointer.get()] { raw->run(); });
  return checkpointer;
}

Checkpointer::~Checkpointer() { stop(); }

int Checkpointer::sync_slice(int fd, bool flush) {
  if (flush) return fdatasync(fd);
  return sync_file_range(fd, 0, 0,
                         SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                             SYNC_FILE_RANGE_WAIT_AFTER);
}

void Checkpointer::set_slice_sync_for_test(SliceSync sync) {
  g_slice_sync.store(sync != nullptr ? sync : &Checkpointer::sync_slice,
                     std::memory_order_relaxed);
}

bool Checkpointer::flush_slice(int wal_frames, int copied_frames, int checkpoint_frames) {
  // Fewer frames than were copied: the WAL started over since, and all of it is new. (It
  // cannot pass the old mark unseen: the thread is woken at checkpoint_frames.)
  const int behind = wal_frames >= copied_frames ? wal_frames - copied_frames : wal_frames;
  return behind < kFlushWhileBehindBelow * checkpoint_frames;
}

bool Checkpointer::flushes_slices() const {
  return flush_slice(wal_frames_.load(std::memory_order_relaxed),
                     copied_frames_.load(std::memory_order_relaxed), checkpoint_frames_);
}

void Checkpointer::count_slice(bool flushed) const {
  paced_writebacks_.fetch_add(1, std::memory_order_relaxed);
  if (flushed) flushed_slices_.fetch_add(1, std::memory_order_relaxed);
}

void Checkpointer::attach(Connection& writer) {
  // Replaces SQLite's automatic checkpoint, which is itself a WAL hook run inside COMMIT.
  sqlite3_wal_hook(writer.handle(), &Checkpointer::on_wal_commit, this);
}

void Checkpointer::detach(Connection& writer) {
  if (writer.handle() != nullptr) sqlite3_wal_hook(writer.handle(), nullptr, nullptr);
}

void Checkpointer::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

// Runs on the writer thread right after a commit reached the WAL; signals the thread, or
// leaves the writer a checkpoint of its own when the WAL outgrew what the thread could fold
// back (checkpoint_if_due(); see the header).
int Checkpointer::on_wal_commit(void* self, sqlite3* /*writer*/, const char* /*name*/,
                                int frames) {
  auto* checkpointer = static_cast<Checkpointer*>(self);
  // Fewer frames than last time: the WAL started over, and so does the pace.
  if (frames < checkpointer->last_frames_) {
    checkpointer->next_signal_frames_ = checkpointer->checkpoint_frames();
  }
  checkpointer->last_frames_ = frames;
  checkpointer->wal_frames_.store(frames, std::memory_order_relaxed);
  if (frames >= checkpointer->writer_frames()) {
    checkpointer->writer_due_ = true;
    return SQLITE_OK;
  }
  if (frames < checkpointer->next_signal_frames_) return SQLITE_OK;
  checkpointer->next_signal_frames_ = frames + checkpointer->step_frames();
  checkpointer->wakeups_.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard lock(checkpointer->mutex_);
    checkpointer->wanted_ = true;
  }
  checkpointer->wake_.notify_one();
  return SQLITE_OK;
}

void Checkpointer::checkpoint_if_due(Connection& writer) {
  if (!writer_due_) return;
  writer_due_ = false;
  // A failure here (a reader still on old frames) leaves the WAL as it is, to try again
  // after the next commit; the commit itself has already succeeded.
  sqlite3_wal_checkpoint_v2(writer.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                            nullptr);
  writer_rounds_.fetch_add(1, std::memory_order_relaxed);
}

void Checkpointer::run() {
  set_thread_name("store-ckpt");
  schedule_as_batch_work();
  const PacingScope paced(*this);
  std::unique_lock lock(mutex_);
  bool behind = false;
  int last_in_wal = 0;
  for (;;) {
    const auto asked = [this] { return wanted_ || stopping_; };
    // While the WAL keeps changing the thread looks again after a short while even if no
    // commit asks: commits between two wake-ups would otherwise wait for the next wake-up,
    // and once the load stops there is none; the writer's next commit would then find a WAL
    // long enough to checkpoint itself, holding that commit up. A round that finds the WAL
    // as before and all of it copied ends the looking.
    if (behind) {
      wake_.wait_for(lock, kRetryAfter, asked);
    } else {
      wake_.wait(lock, asked);
    }
    if (stopping_) return;
    wanted_ = false;
    lock.unlock();
    // PASSIVE takes no lock the writer needs; what a reader still uses stays for next time.
    // A failure (I/O, a busy database) costs nothing else: the WAL keeps every commit until
    // it is copied.
    int in_wal = 0;
    int copied = 0;
    const int rc = sqlite3_wal_checkpoint_v2(db_.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                             &in_wal, &copied);
    behind = rc != SQLITE_OK || copied < in_wal || in_wal != last_in_wal;
    last_in_wal = in_wal;
    uncopied_.store(rc == SQLITE_OK ? in_wal - copied : -1, std::memory_order_relaxed);
    seen_in_wal_.store(in_wal, std::memory_order_relaxed);
    if (rc == SQLITE_OK) copied_frames_.store(copied, std::memory_order_relaxed);
    rounds_.fetch_add(1, std::memory_order_relaxed);
    lock.lock();
  }
}

}  // namespace handover::store
