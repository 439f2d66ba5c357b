// Folds the WAL back into the database file on a thread of its own, so that no commit (and no
// request waiting on one) pays for a checkpoint. Private to the store module.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "handover/util/status.hpp"
#include "sqlite.hpp"

namespace handover::store {

// Owns one read-write connection and one thread. The writer reports the WAL's size after each
// commit; once it holds checkpoint_frames() frames the thread runs a PASSIVE checkpoint, which
// copies what no reader still needs and never blocks the writer or the readers. The writer
// connection's own automatic checkpoints must be off (see attach()).
//
// The WAL starts over from its beginning only once a checkpoint has copied all of it, and a
// checkpoint on another thread rarely gets there while commits keep adding frames: under
// steady load the file would grow without end. So once it holds writer_frames(), the writer
// runs a PASSIVE checkpoint itself right after its commit, when nothing is being added; the
// thread has already copied most frames, so that one is short. It runs once the store has
// taken the commit in (checkpoint_if_due()), not inside COMMIT: readers see a commit's rows
// as soon as COMMIT has written them, and the store's own view of them must not lag that long.
//
// A long WAL is cheaper to fold back than a short one: a checkpoint copies each page once,
// however often the commits since the last one rewrote it, and the pages a turn dirties (the
// end of its conversation's index ranges, the conversation row) are rewritten often. But a
// checkpoint that copies tens of MiB and then syncs hands the disk all of it at once, and the
// commits' own syncs wait behind it. So the thread's writes into the database file are paced:
// after every kWritebackBytes it writes them out and waits, and no commit ever queues behind
// more than that (see docs/performance.md, "Long checkpoints, paced" and "Smaller slices").
class Checkpointer {
 public:
  // About 64 MiB of WAL with 4 KiB pages.
  static constexpr int kDefaultCheckpointFrames = 16000;
  // How much the thread writes into the database file before it writes it out. A commit whose
  // sync comes while a slice is on its way waits for that slice: 256 KiB put 1% of the
  // commits of a paced load at about 1 ms (docs/performance.md, "Smaller slices").
  static constexpr std::size_t kWritebackBytes = 64 * 1024;
  // How soon the thread looks at a WAL that changed since its last checkpoint (see run()).
  static constexpr std::chrono::milliseconds kRetryAfter{100};
  // See sync_slice(): 2,000 frames with the default window, about 8 MiB.
  static constexpr double kFlushWhileBehindBelow = 0.125;

  // Opens the connection to `path` with the store's `synchronous` mode and starts the thread,
  // which checkpoints once the WAL holds `checkpoint_frames` frames (at least 4).
  static Result<std::unique_ptr<Checkpointer>> start(
      const std::string& path, const std::string& synchronous, int busy_timeout_ms,
      int checkpoint_frames = kDefaultCheckpointFrames);
  ~Checkpointer();  // calls stop()
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // The thread's first checkpoint comes at checkpoint_frames(). Past it the thread is woken
  // again only after step_frames() more: every checkpoint ends in an fsync of the database
  // file, and waking it after every commit made light load pay one checkpoint per commit (see
  // docs/performance.md, "Checkpoints at a steady pace"). The writer checkpoints itself at
  // writer_frames().
  int checkpoint_frames() const { return checkpoint_frames_; }
  int step_frames() const { return checkpoint_frames_ / 4; }
  int writer_frames() const { return 2 * checkpoint_frames_; }

  // Routes the commits of `writer` to this checkpointer instead of SQLite's automatic
  // checkpoints. Call on the writer's thread (or before it starts); `writer` must be closed or
  // detached with detach() before this object goes away.
  void attach(Connection& writer);
  static void detach(Connection& writer);

  // The writer's thread, after each commit: the writer's own checkpoint, if that commit left
  // writer_frames() or more in the WAL.
  void checkpoint_if_due(Connection& writer);

  // How often commits have woken the thread so far.
  std::uint64_t wakeups_for_test() const { return wakeups_.load(std::memory_order_relaxed); }
  // Frames the thread's last checkpoint found in the WAL, and those it left there (-1 after a
  // failed one).
  int seen_in_wal_for_test() const { return seen_in_wal_.load(std::memory_order_relaxed); }
  int uncopied_for_test() const { return uncopied_.load(std::memory_order_relaxed); }
  // Checkpoints run so far by the thread, and by the writer after its commits. Any thread.
  std::uint64_t checkpoints() const { return rounds_.load(std::memory_order_relaxed); }
  std::uint64_t writer_checkpoints() const {
    return writer_rounds_.load(std::memory_order_relaxed);
  }
  // Times the thread wrote the database file out after kWritebackBytes of its writes, and how
  // many of those also flushed the disk's cache (see sync_slice()).
  std::uint64_t paced_writebacks() const {
    return paced_writebacks_.load(std::memory_order_relaxed);
  }
  std::uint64_t flushed_slices() const { return flushed_slices_.load(std::memory_order_relaxed); }

  // Writes a slice out and waits for the disk. With `flush`, fdatasync also empties the
  // disk's cache, so the next commit's own flush does not carry the slice. That costs the
  // thread time, so it flushes only while it keeps up: while the frames committed since its
  // last checkpoint's copies are fewer than kFlushWhileBehindBelow of checkpoint_frames(), as
  // under a moderate load. Further behind, under a heavy one, catching up matters more: a
  // slice is only written (sync_file_range), as fast as the disk takes it, or the WAL would
  // outgrow writer_frames() by far while the thread holds the checkpoint.
  static int sync_slice(int fd, bool flush);
  // Whether the thread's next slice flushes; any thread.
  bool flushes_slices() const;
  // The rule behind it: `wal_frames` after the latest commit, `copied_frames` by the latest
  // checkpoint.
  static bool flush_slice(int wal_frames, int copied_frames, int checkpoint_frames);
  // The checkpoint thread, after each slice.
  void count_slice(bool flushed) const;

  // Stops and joins the thread; a checkpoint under way finishes first. Idempotent.
  void stop();

  // Replaces sync_slice() in every checkpointer of the process; nullptr puts it back. For
  // tests of a failing disk.
  using SliceSync = int (*)(int fd, bool flush);
  static void set_slice_sync_for_test(SliceSync sync);

 private:
  Checkpointer(Connection db, int checkpoint_frames)
      : db_(std::move(db)),
        checkpoint_frames_(checkpoint_frames),
        next_signal_frames_(checkpoint_frames) {}

  static int on_wal_commit(void* self, struct sqlite3* db, const char* name, int frames);
  void run();

  Connection db_;  // the thread's only
  const int checkpoint_frames_;
  std::mutex mutex_;
  std::condition_variable wake_;
  int next_signal_frames_;  // writer thread only
  int last_frames_ = 0;     // writer thread only
  bool writer_due_ = false;  // writer thread only: checkpoint_if_due() has work
  std::atomic<std::uint64_t> wakeups_{0};
  std::atomic<std::uint64_t> rounds_{0};
  std::atomic<int> uncopied_{0};
  std::atomic<int> seen_in_wal_{0};
  std::atomic<std::uint64_t> writer_rounds_{0};
  std::atomic<int> wal_frames_{0};     // after the writer's latest commit
  std::atomic<int> copied_frames_{0};  // by the thread's latest checkpoint
  mutable std::atomic<std::uint64_t> paced_writebacks_{0};
  mutable std::atomic<std::uint64_t> flushed_slices_{0};
  bool wanted_ = false;    // guarded by mutex_
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace handover::store
