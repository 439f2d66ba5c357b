// One thread that runs posted jobs in order: work too slow for the store's writer thread or a
// network thread, such as the context snapshot of a long conversation.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace handover::api {

// Thread-safe. Jobs run one at a time, in the order posted. stop() (and the destructor) runs
// every job already posted, then joins; a job posted after stop() began runs on the calling
// thread, so no caller waits for an answer that never comes. A job runs with the request id
// (logging::current_request_id) of the thread that posted it.
class WorkQueue {
 public:
  // `thread_name` (at most 15 bytes) names the worker thread in tools like top.
  explicit WorkQueue(const char* thread_name = "slow-work");
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void post(std::function<void()> job);
  void stop();

 private:
  void run(const char* thread_name);

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> jobs_;  // guarded by mutex_
  bool stopping_ = false;                   // guarded by mutex_
  std::thread thread_;
};

}  // namespace handover::api
