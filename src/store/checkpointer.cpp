// The WAL checkpoint thread.
#include "checkpointer.hpp"

#include <sqlite3.h>

#include <utility>

namespace handover::store {

Result<std::unique_ptr<Checkpointer>> Checkpointer::start(const std::string& path,
                                                          const std::string& synchronous,
                                                          int busy_timeout_ms) {
  Result<Connection> db = Connection::open(path, Connection::Mode::kReadWrite, busy_timeout_ms);
  if (!db) return db.status();
  // A checkpoint syncs the database file as the writer's mode says it must.
  Status mode =
      db->exec(synchronous == "full" ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
  if (!mode.is_ok()) return mode;

  std::unique_ptr<Checkpointer> checkpointer(new Checkpointer(std::move(db).value()));
  checkpointer->thread_ = std::thread([raw = checkpointer.get()] { raw->run(); });
  return checkpointer;
}

Checkpointer::~Checkpointer() { stop(); }

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
// checkpoints in place when the WAL outgrew what the thread could fold back (see the header).
int Checkpointer::on_wal_commit(void* self, sqlite3* writer, const char* name, int frames) {
  auto* checkpointer = static_cast<Checkpointer*>(self);
  // Fewer frames than last time: the WAL started over, and so does the pace.
  if (frames < checkpointer->last_frames_) checkpointer->next_signal_frames_ = kCheckpointFrames;
  checkpointer->last_frames_ = frames;
  if (frames >= kWriterCheckpointFrames) {
    // A failure here (a reader still on old frames) leaves the WAL as it is, to try again
    // after the next commit; the commit itself has already succeeded.
    sqlite3_wal_checkpoint_v2(writer, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    checkpointer->writer_rounds_.fetch_add(1, std::memory_order_relaxed);
    return SQLITE_OK;
  }
  if (frames < checkpointer->next_signal_frames_) return SQLITE_OK;
  checkpointer->next_signal_frames_ = frames + kCheckpointStepFrames;
  checkpointer->wakeups_.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard lock(checkpointer->mutex_);
    checkpointer->wanted_ = true;
  }
  checkpointer->wake_.notify_one();
  return SQLITE_OK;
}

void Checkpointer::run() {
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
    rounds_.fetch_add(1, std::memory_order_relaxed);
    lock.lock();
  }
}

}  // namespace handover::store
