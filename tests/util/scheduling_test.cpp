// Batch scheduling applies to the calling thread only.
#include "handover/util/scheduling.hpp"

#include <gtest/gtest.h>
#include <sched.h>

#include <thread>

namespace handover {
namespace {

TEST(Scheduling, BatchWorkChangesTheCallingThreadOnly) {
  const int before = sched_getscheduler(0);
  int inside = -1;
  bool applied = false;
  std::thread worker([&] {
    applied = schedule_as_batch_work();
    inside = sched_getscheduler(0);
  });
  worker.join();

  ASSERT_TRUE(applied);
  EXPECT_EQ(inside, SCHED_BATCH);
  EXPECT_EQ(sched_getscheduler(0), before);
}

}  // namespace
}  // namespace handover
