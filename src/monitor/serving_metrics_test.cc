#include "monitor/serving_metrics.h"

#include <gtest/gtest.h>

#include <optional>

namespace vigil {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

// Whether /metrics shows any series of `model` version `version`.
bool Shows(const MetricsRegistry& registry, const std::string& model, const std::string& version) {
  return registry.Render().find("model=\"" + model + "\",version=\"" + version + "\"") != std::string::npos;
}

TEST(ServingMetricsTest, UnloadedVersionsSeriesLeaveAfterTheGraceAndStayInTheModelsTotals) {
  MetricsRegistry registry;
  ServingMetrics serving(registry, minutes(5));
  std::optional<VersionMetrics> v1 = serving.ForVersion("credit", "1");
  VersionMetrics v2 = serving.ForVersion("credit", "2");
  for (int i = 0; i < 3; ++i) {
    v1->requests->Increment();
    v1->request_latency->Observe(0.001);
  }
  v2.requests->Increment();
  serving.CountFailure("credit", "1", "internal");
  serving.CountFailure("credit", "", "not_found");
  ASSERT_EQ(serving.Totals("credit").requests, 4);
  ASSERT_EQ(serving.Totals("credit").failures, 1);

  // Held: never removed, however late.
  serving.ExpireUnloaded(ServingMetrics::Clock::now() + hours(24));
  EXPECT_TRUE(Shows(registry, "credit", "1"));

  v1.reset();  // Version 1 unloaded.
  const auto unloaded = ServingMetrics::Clock::now();
  serving.ExpireUnloaded(unloaded + minutes(4));
  EXPECT_TRUE(Shows(registry, "credit", "1")) << "removed before the grace was over";
  EXPECT_EQ(serving.tracked_versions(), 2u);

  serving.ExpireUnloaded(unloaded + minutes(6));
  EXPECT_FALSE(Shows(registry, "credit", "1")) << registry.Render();
  EXPECT_TRUE(Shows(registry, "credit", "2"));
  EXPECT_EQ(serving.tracked_versions(), 1u);
  // The failure that could not be given a version stays.
  EXPECT_NE(registry.Render().find("model=\"credit\",version=\"\",reason=\"not_found\""), std::string::npos);

  // The model's totals still count version 1 (alert rules and rollouts take
  // differences of them); the version's own are gone.
  const ServingMetrics::ModelTotals total = serving.Totals("credit");
  EXPECT_EQ(total.requests, 4);
  EXPECT_EQ(total.failures, 1);
  uint64_t observed = 0;
  for (uint64_t c : total.latency_buckets) observed += c;
  EXPECT_EQ(observed, 3u);
  EXPECT_EQ(serving.Totals("credit", "1").requests, 0);
  EXPECT_EQ(serving.Totals("credit", "2").requests, 1);

  // Counting goes on across removals.
  v2.requests->Increment();
  EXPECT_EQ(serving.Totals("credit").requests, 5);
}

TEST(ServingMetricsTest, AVersionBackBeforeTheGraceContinuesItsSeries) {
  MetricsRegistry registry;
  ServingMetrics serving(registry, minutes(5));
  std::optional<VersionMetrics> first = serving.ForVersion("credit", "1");
  first->requests->Increment(2);
  Counter* counter = first->requests;
  first.reset();
  VersionMetrics again = serving.ForVersion("credit", "1");
  EXPECT_EQ(again.requests, counter);
  EXPECT_EQ(again.requests->value(), 2);
  serving.ExpireUnloaded(ServingMetrics::Clock::now() + hours(1));
  EXPECT_TRUE(Shows(registry, "credit", "1"));
}

TEST(ServingMetricsTest, SeriesStayWhileAnyHolderOfTheVersionIsLeft) {
  // A version reloaded in place (its files changed) is held by the new
  // servable and the old one, still draining, at the same time.
  MetricsRegistry registry;
  ServingMetrics serving(registry, std::chrono::seconds(0));
  std::optional<VersionMetrics> draining = serving.ForVersion("credit", "3");
  VersionMetrics serving_copy = serving.ForVersion("credit", "3");
  const VersionMetrics shared = serving_copy;  // Copies share one lease.
  draining.reset();
  serving.ExpireUnloaded(ServingMetrics::Clock::now() + hours(1));
  EXPECT_TRUE(Shows(registry, "credit", "3"));
  serving_copy.requests->Increment();  // Still valid.
  EXPECT_EQ(shared.requests->value(), 1);
}

TEST(ServingMetricsTest, WithoutGraceTheSeriesGoAtTheNextExpiry) {
  MetricsRegistry registry;
  ServingMetrics serving(registry, std::chrono::seconds(0));
  for (int v = 1; v <= 100; ++v) {
    VersionMetrics m = serving.ForVersion("credit", std::to_string(v));
    m.requests->Increment();
  }
  serving.ExpireUnloaded();
  EXPECT_EQ(serving.tracked_versions(), 0u);
  EXPECT_EQ(registry.Render().find("version=\"50\""), std::string::npos);
  EXPECT_EQ(serving.Totals("credit").requests, 100);
}

}  // namespace
}  // namespace vigil
