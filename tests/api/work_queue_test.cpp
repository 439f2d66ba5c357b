// The slow-work queue runs jobs in order on its own thread and loses none when it stops.
#include "work_queue.hpp"

#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "handover/logging/request_context.hpp"

namespace handover::api {
namespace {

TEST(WorkQueueTest, RunsJobsInOrderOnItsOwnThread) {
  WorkQueue queue;
  std::mutex mutex;
  std::vector<int> order;
  std::vector<std::thread::id> threads;
  std::promise<void> last;
  for (int i = 0; i < 5; ++i) {
    queue.post([&, i] {
      std::lock_guard lock(mutex);
      order.push_back(i);
      threads.push_back(std::this_thread::get_id());
      if (i == 4) last.set_value();
    });
  }
  last.get_future().wait();

  std::lock_guard lock(mutex);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  for (const auto& id : threads) EXPECT_NE(id, std::this_thread::get_id());
}

TEST(WorkQueueTest, AJobRunsWithTheRequestIdItWasPostedWith) {
  WorkQueue queue;
  std::promise<std::string> scoped;
  std::promise<std::string> unscoped;

  {
    logging::RequestScope scope("req-9");
    queue.post([&] { scoped.set_value(std::string(logging::current_request_id())); });
  }
  queue.post([&] { unscoped.set_value(std::string(logging::current_request_id())); });

  EXPECT_EQ(scoped.get_future().get(), "req-9");
  EXPECT_EQ(unscoped.get_future().get(), "");
}

TEST(WorkQueueTest, StopRunsWhatWasPostedAndLaterJobsRunOnTheCaller) {
  WorkQueue queue;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  int ran = 0;  // written by the queue's thread, read after stop() joined it
  queue.post([released] { released.wait(); });
  for (int i = 0; i < 3; ++i) queue.post([&ran] { ++ran; });

  std::thread stopper([&queue] { queue.stop(); });
  release.set_value();
  stopper.join();
  EXPECT_EQ(ran, 3);

  std::thread::id ran_on;
  queue.post([&ran_on] { ran_on = std::this_thread::get_id(); });
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

}  // namespace
}  // namespace handover::api
