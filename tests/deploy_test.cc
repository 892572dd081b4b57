// The files in deploy/ refer only to metrics Vigil exports: every vigil_*
// name in the Grafana dashboard's queries and in the Prometheus rules is in
// the metrics table of docs/metrics.md (which the e2e tests hold to the
// server's real output).
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "testing/test_repository.h"

namespace vigil {
namespace {

std::set<std::string> Names(const std::string& text) {
  std::set<std::string> names;
  const std::regex name(R"(vigil_[a-z_]+)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), name); it != std::sregex_iterator(); ++it) {
    std::string n = it->str();
    // Histogram series carry suffixes.
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (n.size() > strlen(suffix) && n.compare(n.size() - strlen(suffix), std::string::npos, suffix) == 0) {
        n.resize(n.size() - strlen(suffix));
      }
    }
    names.insert(n);
  }
  return names;
}

TEST(DeployTest, DashboardAndRulesUseExportedMetrics) {
  const std::string root = VIGIL_SOURCE_DIR;
  const std::string documented = testing::ReadFile(root + "/docs/metrics.md");
  const auto dashboard = nlohmann::json::parse(testing::ReadFile(root + "/deploy/grafana/vigil.json"));
  std::string queries;
  int panels = 0;
  for (const auto& panel : dashboard["panels"]) {
    if (!panel.contains("targets")) continue;
    ++panels;
    for (const auto& target : panel["targets"]) queries += target["expr"].get<std::string>() + "\n";
  }
  EXPECT_GE(panels, 8);
  std::set<std::string> used = Names(queries);
  for (const std::string& n : Names(testing::ReadFile(root + "/deploy/prometheus/rules.yml"))) used.insert(n);
  ASSERT_FALSE(used.empty());
  for (const std::string& n : used) {
    EXPECT_NE(documented.find("`" + n + "`"), std::string::npos) << n << " is not an exported metric";
  }
}

}  // namespace
}  // namespace vigil
