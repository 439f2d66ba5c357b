#include "work_queue.hpp"

#include <spdlog/spdlog.h>

#include <exception>
#include <utility>

#include "handover/logging/request_context.hpp"
#include "handover/util/scheduling.hpp"
#include "handover/util/thread_name.hpp"

namespace handover::api {

WorkQueue::WorkQueue(const char* thread_name)
    : thread_([this, thread_name] { run(thread_name); }) {}

WorkQueue::~WorkQueue() { stop(); }

void WorkQueue::post(std::function<void()> job) {
  // What the job logs names the request it was posted for.
  if (!logging::current_request_id().empty()) job = logging::with_current_request(std::move(job));
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      jobs_.push_back(std::move(job));
      ready_.notify_one();
      return;
    }
  }
  job();
}

void WorkQueue::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_one();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void WorkQueue::run(const char* thread_name) {
  set_thread_name(thread_name);
  schedule_as_batch_work();
  std::unique_lock lock(mutex_);
  for (;;) {
    ready_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stopping, and everything posted has run
    std::function<void()> job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    try {
      job();
    } catch (const std::exception& e) {
      spdlog::error("background job threw: {}", e.what());
    }
    lock.lock();
  }
}

}  // namespace handover::api
