// The benchmark harness in its smoke mode: bench/run.sh runs every part for a moment and must
// leave a well-formed results file. Nothing here looks at how fast anything was.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

namespace {

using nlohmann::json;

constexpr const char* kSections[] = {"intake", "store", "triggers", "escalation", "memory"};

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct HarnessRun {
  int exit_code = -1;
  std::string log;
  json results;
};

// One smoke run of bench/run.sh with the programs of this build, on a temporary results file.
HarnessRun run_harness() {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("handover-bench-smoke-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string out = (dir / "latest.json").string();
  const std::string log = (dir / "run.log").string();
  const std::string command = std::string("BUILD_DIR='") + HANDOVER_BINARY_DIR + "' BENCH_DATA='" +
                              HANDOVER_SOURCE_DIR + "/../shared/data' '" + HANDOVER_SOURCE_DIR +
                              "/bench/run.sh' --smoke --no-install --no-build --out '" + out +
                              "' > '" + log + "' 2>&1";
  HarnessRun run;
  run.exit_code = std::system(command.c_str());
  run.log = read(log);
  run.results = json::parse(read(out), nullptr, /*allow_exceptions=*/false);
  std::filesystem::remove_all(dir);
  return run;
}

void expect_sections_measured_or_explained(const json& results) {
  for (const char* name : kSections) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(results.contains(name));
    const json& section = results[name];
    ASSERT_TRUE(section.is_object());
    if (!section.contains("skipped")) continue;
    ASSERT_TRUE(section["skipped"].is_string());
    EXPECT_FALSE(section["skipped"].get<std::string>().empty());
  }
}

// The store part needs nothing but this build, so it always runs.
void expect_store_figures(const json& store) {
  ASSERT_FALSE(store.contains("skipped")) << store.dump();
  for (const char* program : {"store_server", "store_plain"}) {
    SCOPED_TRACE(program);
    ASSERT_TRUE(store[program]["rate"].is_number()) << store.dump();
    EXPECT_GT(store[program]["rate"].get<double>(), 0);
  }
  EXPECT_TRUE(store["ratio"].is_number());
}

void expect_intake_figures(const json& intake) {
  if (intake.contains("skipped")) return;  // wrk or nginx missing: said why, checked above
  for (const char* load : {"c50", "c200", "paced"}) {
    for (const char* who : {"server", "nginx"}) {
      SCOPED_TRACE(std::string(load) + "/" + who);
      const json& median = intake[load][who]["median"];
      ASSERT_TRUE(median.is_object()) << intake.dump();
      for (const char* figure :
           {"rps", "p50_ms", "p99_ms", "p999_ms", "cpu_us_per_request", "steal_ms"}) {
        EXPECT_TRUE(median.contains(figure)) << figure;
      }
      EXPECT_GE(median.value("steal_ms", -1.0), 0);
      EXPECT_GT(median.value("requests", 0.0), 0);
    }
  }
  // The disk's own sync latency, measured beside the paced runs.
  ASSERT_TRUE(intake.contains("disk_sync")) << intake.dump();
  EXPECT_GT(intake["disk_sync"].value("syncs", 0.0), 0);
  EXPECT_GT(intake["disk_sync"].value("max_ms", 0.0), 0);
  // ... and how late its loop woke, which is the host's doing on a quiet machine.
  EXPECT_GT(intake["disk_sync"].value("wakes", 0.0), 0);
  EXPECT_GE(intake["disk_sync"].value("wake_max_ms", -1.0), 0);
}

void expect_goals(const json& goals) {
  ASSERT_TRUE(goals.is_array());
  std::set<std::string> ids;
  for (const json& goal : goals) {
    SCOPED_TRACE(goal.dump());
    ids.insert(goal.value("id", ""));
    const std::string result = goal.value("result", "");
    EXPECT_TRUE(result == "PASS" || result == "MISS" || result == "SKIP");
    EXPECT_TRUE(goal["limit"].is_number());
    // A measured goal carries its figure; only a skipped one lacks it.
    EXPECT_EQ(result == "SKIP", goal["measured"].is_null());
  }
  EXPECT_EQ(ids.size(), 13u);
  EXPECT_EQ(ids.count("intake.rps_vs_nginx"), 1u);
  EXPECT_EQ(ids.count("memory.agent"), 1u);
}

// One test, as each test of a suite runs in its own process and the harness takes a while.
TEST(BenchSmoke, WritesWellFormedResultsForEveryPart) {
  const HarnessRun run = run_harness();

  EXPECT_EQ(run.exit_code, 0) << run.log;
  ASSERT_TRUE(run.results.is_object()) << run.log;
  EXPECT_EQ(run.results.value("schema", 0), 1);
  EXPECT_EQ(run.results.value("mode", ""), "smoke");
  EXPECT_TRUE(run.results["machine"].is_object());
  expect_sections_measured_or_explained(run.results);
  expect_store_figures(run.results["store"]);
  expect_intake_figures(run.results["intake"]);
  expect_goals(run.results["goals"]);
}

}  // namespace
