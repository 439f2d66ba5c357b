#include "handover/util/log_throttle.hpp"

#include <gtest/gtest.h>

namespace handover {
namespace {

TEST(LogThrottle, AdmitsOneLinePerIntervalAndCountsTheOthers) {
  LogThrottle throttle(1000);
  std::uint64_t suppressed = 99;

  ASSERT_TRUE(throttle.admit(5000, suppressed));
  EXPECT_EQ(suppressed, 0u);
  EXPECT_FALSE(throttle.admit(5001, suppressed));
  EXPECT_FALSE(throttle.admit(5999, suppressed));
  ASSERT_TRUE(throttle.admit(6000, suppressed));
  EXPECT_EQ(suppressed, 2u);
  ASSERT_TRUE(throttle.admit(9000, suppressed));
  EXPECT_EQ(suppressed, 0u);
}

}  // namespace
}  // namespace handover
