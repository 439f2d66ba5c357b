#include "handover/util/text.hpp"

#include <gtest/gtest.h>

namespace handover::text {
namespace {

TEST(EditDistance, CountsInsertionsDeletionsAndSubstitutions) {
  struct Case {
    const char* a;
    const char* b;
    std::size_t distance;
  };
  const Case cases[] = {
      {"", "", 0},          {"body_limit", "body_limit", 0}, {"bodylimit", "body_limit", 1},
      {"agnet", "agent", 2}, {"kitten", "sitting", 3},        {"", "abc", 3},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.a) + " / " + c.b);
    EXPECT_EQ(edit_distance(c.a, c.b), c.distance);
    EXPECT_EQ(edit_distance(c.b, c.a), c.distance);
  }
}

}  // namespace
}  // namespace handover::text
