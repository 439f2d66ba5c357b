// A store for a test fixture, in a fresh directory under the test's temporary directory.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include "handover/store/store.hpp"
#include "handover/util/clock.hpp"

namespace handover::testing {

// Makes <test temp dir>/<prefix>_XXXXXX; "" when it could not.
inline std::string make_temp_dir(std::string_view prefix) {
  std::string pattern =
      (std::filesystem::path(::testing::TempDir()) / (std::string(prefix) + "_XXXXXX")).string();
  return mkdtemp(pattern.data()) == nullptr ? std::string() : pattern;
}

// Opens <dir>/handover.db on `clock` with the default options.
inline Result<std::unique_ptr<store::Store>> open_store_in(const std::string& dir,
                                                           const Clock& clock) {
  store::StoreOptions options;
  options.path = dir + "/handover.db";
  return store::Store::open(options, clock);
}

// Removes a directory made by make_temp_dir; a failure leaves only litter behind.
inline void remove_temp_dir(const std::string& dir) {
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

}  // namespace handover::testing
