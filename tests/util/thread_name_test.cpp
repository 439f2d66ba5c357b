#include "handover/util/thread_name.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>

namespace handover {
namespace {

// The name a new thread reads back after naming itself `name`.
std::string name_after_setting(const std::string& name) {
  std::string seen;
  std::thread named([&] {
    set_thread_name(name);
    seen = thread_name();
  });
  named.join();
  return seen;
}

TEST(ThreadName, NamesTheCallingThreadOnly) {
  const std::string before = thread_name();

  const std::string inside = name_after_setting("store-writer");

  EXPECT_EQ(inside, "store-writer");
  EXPECT_EQ(thread_name(), before);
}

TEST(ThreadName, KeepsTheFirstFifteenBytesOfALongName) {
  EXPECT_EQ(name_after_setting("a-name-longer-than-fifteen-bytes"), "a-name-longer-t");
}

}  // namespace
}  // namespace handover
