#include "handover/metrics/registry.hpp"

#include <gtest/gtest.h>

namespace handover::metrics {
namespace {

TEST(Registry, RendersCountersWithLabelsAndHelp) {
  Registry registry;
  auto& requests = registry.counter("handover_test_total", "Things counted", {"route", "code"});

  requests.with({"/a", "200"}).inc();
  requests.with({"/a", "200"}).inc(2);
  requests.with({"/b\"x\n", "500"}).inc();
  const std::string text = registry.render();

  EXPECT_NE(text.find("# HELP handover_test_total Things counted\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE handover_test_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("handover_test_total{route=\"/a\",code=\"200\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("handover_test_total{route=\"/b\\\"x\\n\",code=\"500\"} 1\n"),
            std::string::npos);
}

TEST(Registry, HistogramBucketsAreCumulativeWithInf) {
  Registry registry;
  auto& h = registry.histogram("handover_test_seconds", "Latency", {0.1, 1}).with({});

  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  const std::string text = registry.render();

  EXPECT_NE(text.find("handover_test_seconds_bucket{le=\"0.10000000000000001\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("handover_test_seconds_bucket{le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("handover_test_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("handover_test_seconds_count 3\n"), std::string::npos);
  EXPECT_NE(text.find("handover_test_seconds_sum 5.5499999999999998\n"), std::string::npos);
}

TEST(Registry, CallbackMetricsAreReadAtRenderTime) {
  Registry registry;
  double depth = 1;
  registry.callback_gauge("handover_test_depth", "Depth", [&] { return depth; });
  registry.callback_counter("handover_test_events_total", "Events", [] { return 7.0; });

  depth = 4;
  const std::string text = registry.render();

  EXPECT_NE(text.find("# TYPE handover_test_depth gauge\nhandover_test_depth 4\n"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE handover_test_events_total counter\nhandover_test_events_total 7\n"),
            std::string::npos);
}

}  // namespace
}  // namespace handover::metrics
