#include "handover/util/open_file_limit.hpp"

#include <sys/resource.h>

#include <gtest/gtest.h>

namespace handover {
namespace {

TEST(OpenFileLimit, RaisesTheSoftLimitToTheHardOne) {
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  if (saved.rlim_max == RLIM_INFINITY || saved.rlim_max < 512) GTEST_SKIP() << "no finite room";
  rlimit low = saved;
  low.rlim_cur = 256;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);

  Result<OpenFileLimit> raised = raise_open_file_limit();
  rlimit now{};
  getrlimit(RLIMIT_NOFILE, &now);
  setrlimit(RLIMIT_NOFILE, &saved);  // the other tests of this process keep their limit

  ASSERT_TRUE(raised.is_ok()) << raised.status().to_string();
  EXPECT_EQ(raised->previous, 256u);
  EXPECT_EQ(raised->soft, saved.rlim_max);
  EXPECT_EQ(raised->hard, saved.rlim_max);
  EXPECT_EQ(now.rlim_cur, saved.rlim_max);
}

}  // namespace
}  // namespace handover
