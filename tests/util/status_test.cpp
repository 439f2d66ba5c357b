#include "handover/util/status.hpp"

#include <gtest/gtest.h>

namespace handover {
namespace {

TEST(Status, DefaultIsOk) {
  Status s;

  EXPECT_TRUE(s.is_ok());
  EXPECT_EQ(s.to_string(), "OK");
}

TEST(Status, CarriesCodeAndMessage) {
  Status s = Status::not_found("conversation c_1");

  EXPECT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.to_string(), "NotFound: conversation c_1");
}

TEST(Result, HoldsValueOrError) {
  Result<int> good = 42;
  Result<int> bad = Status::conflict("taken");

  ASSERT_TRUE(good.is_ok());
  EXPECT_EQ(*good, 42);
  EXPECT_TRUE(good.status().is_ok());
  EXPECT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kConflict);
}

}  // namespace
}  // namespace handover
