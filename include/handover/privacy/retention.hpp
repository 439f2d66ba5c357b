// The retention job: deletes (or strips) what is older than its data class's period, in small
// batches through the store's writer queue so that intake keeps flowing, then gives free
// pages back to the file system. Each run is logged and counted.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "handover/privacy/privacy_config.hpp"
#include "handover/store/store.hpp"
#include "handover/util/status.hpp"

namespace handover {
class Clock;
namespace metrics {
class Registry;
template <class T>
class Family;
class Counter;
}  // namespace metrics
}  // namespace handover

namespace handover::privacy {

// What one run did.
struct RetentionReport {
  // Rows deleted or stripped per class: "turns", "event_texts" (by the turns' period),
  // "conversations", "snapshots", "feedback", "events", "access_log". Classes kept forever
  // are absent.
  std::map<std::string, std::int64_t> rows;
  std::vector<std::string> deleted_conversations;  // ids, for in-memory state to forget
  std::int64_t pages_reclaimed = 0;
  std::int64_t batches = 0;
  double seconds = 0;
  Status status;  // the first store error; the run carries on with the next class
  bool stopped = false;  // stop() ended the run early; what is left waits for the next run
};

using RetentionCallback = std::function<void(const RetentionReport&)>;

// Thread-safe. Runs never overlap: a run asked for while one is going waits for it.
class RetentionJob {
 public:
  // `store`, `clock` and `registry` must outlive the job. `after_run`, when set, is told every
  // report (on the thread that ran it), e.g. to drop trigger state of deleted conversations.
  // Registers handover_retention_* metrics in `registry`.
  RetentionJob(store::Store& store, RetentionConfig config, const Clock& clock,
               metrics::Registry& registry, RetentionCallback after_run = {});
  ~RetentionJob();  // calls stop()

  RetentionJob(const RetentionJob&) = delete;
  RetentionJob& operator=(const RetentionJob&) = delete;

  // Starts the background thread: a first run right away, then one every interval_s.
  void start();
  // Stops and joins the thread after the batch in flight. Idempotent. Pending run_async
  // callbacks are called with a report whose status is Unavailable.
  void stop();

  // Runs once on the calling thread and returns when done, or after the batch in flight once
  // stop() was called (report.stopped). Cutoffs are the clock's now minus each period.
  RetentionReport run_once();
  // Asks the background thread for a run now; `done` gets its report on that thread. Without
  // a started thread `done` gets Unavailable at once.
  void run_async(RetentionCallback done);

 private:
  void run_thread();
  bool stop_requested();
  void reclaim(RetentionReport& report);
  void run_class(const char* name, store::RetentionClass data_class, std::int64_t period_s,
                 RetentionReport& report);

  store::Store& store_;
  const RetentionConfig config_;
  const Clock& clock_;
  RetentionCallback after_run_;
  metrics::Family<metrics::Counter>& deleted_;
  metrics::Counter& runs_;
  metrics::Counter& failures_;
  metrics::Counter& pages_;

  std::mutex run_mutex_;  // serialises runs

  std::mutex mutex_;
  std::condition_variable wake_;
  bool started_ = false;                  // guarded by mutex_
  bool stopping_ = false;                 // guarded by mutex_
  std::vector<RetentionCallback> asked_;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace handover::privacy
