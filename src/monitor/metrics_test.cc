#include "monitor/metrics.h"

#include <gtest/gtest.h>

namespace vigil {
namespace {

TEST(MetricsTest, RendersCountersAndGaugesWithLabels) {
  MetricsRegistry registry;
  auto& requests = registry.AddCounter("vigil_test_total", "Things counted.", {"model", "version"});
  requests.WithLabels({"credit", "1"}).Increment();
  requests.WithLabels({"credit", "1"}).Increment(2);
  auto& gauge = registry.AddGauge("vigil_test_gauge", "A level.", {});
  gauge.WithLabels({}).Set(1.5);
  EXPECT_EQ(registry.Render(),
            "# HELP vigil_test_total Things counted.\n"
            "# TYPE vigil_test_total counter\n"
            "vigil_test_total{model=\"credit\",version=\"1\"} 3\n"
            "# HELP vigil_test_gauge A level.\n"
            "# TYPE vigil_test_gauge gauge\n"
            "vigil_test_gauge 1.5\n");
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithInfAndSum) {
  MetricsRegistry registry;
  auto& h = registry.AddHistogram("vigil_latency_seconds", "Latency.", {"m"}, {0.1, 1});
  auto& child = h.WithLabels({"a"});
  child.Observe(0.05);
  child.Observe(0.1);  // Upper bounds are inclusive.
  child.Observe(0.5);
  child.Observe(7);
  EXPECT_EQ(registry.Render(),
            "# HELP vigil_latency_seconds Latency.\n"
            "# TYPE vigil_latency_seconds histogram\n"
            "vigil_latency_seconds_bucket{m=\"a\",le=\"0.1\"} 2\n"
            "vigil_latency_seconds_bucket{m=\"a\",le=\"1\"} 3\n"
            "vigil_latency_seconds_bucket{m=\"a\",le=\"+Inf\"} 4\n"
            "vigil_latency_seconds_sum{m=\"a\"} 7.65\n"
            "vigil_latency_seconds_count{m=\"a\"} 4\n");
}

TEST(MetricsTest, EscapesLabelValues) {
  EXPECT_EQ(EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

TEST(MetricsTest, ChildrenKeepTheirAddressAsOthersAreAdded) {
  MetricsRegistry registry;
  auto& family = registry.AddCounter("vigil_x_total", "x", {"k"});
  Counter* first = &family.WithLabels({"0"});
  for (int i = 1; i < 1000; ++i) family.WithLabels({std::to_string(i)});
  EXPECT_EQ(first, &family.WithLabels({"0"}));
}

TEST(MetricsTest, ProcessCollectorWritesStandardNames) {
  MetricsRegistry registry;
  AddProcessCollector(registry);
  std::string text = registry.Render();
  for (const char* name : {"process_cpu_seconds_total ", "process_resident_memory_bytes ",
                           "process_open_fds ", "process_start_time_seconds "}) {
    EXPECT_NE(text.find(std::string("\n") + name), std::string::npos) << name;
  }
}

TEST(MetricsTest, FormatsSpecialValues) {
  EXPECT_EQ(FormatValue(1.0 / 0.0), "+Inf");
  EXPECT_EQ(FormatValue(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(FormatValue(0.25), "0.25");
  EXPECT_EQ(FormatValue(3), "3");
}

}  // namespace
}  // namespace vigil
