#include "handover/util/thread_name.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>

namespace handover {
namespace {

TEST(ThreadName, NamesTheCallingThreadOnly) {
  const std::string before = thread_name();
  std::string inside;

  std::thread named([&inside] {
    set_thread_name("store-writer");
    inside = thread_name();
  });
  named.join();

  EXPECT_EQ(inside, "store-writer");
  EXPECT_EQ(thread_name(), before);
}

TEST(ThreadName, KeepsTheFirstFifteenBytesOfALongName) {
  std::string inside;

  std::thread named([&inside] {
    set_thread_name("a-name-longer-than-fifteen-bytes");
    inside = thread_name();
  });
  named.join();

  EXPECT_EQ(inside, "a-name-longer-t");
}

}  // namespace
}  // namespace handover
