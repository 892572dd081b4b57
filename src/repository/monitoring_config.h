// MonitoringConfig: `monitoring:` in a model's model.yaml, the per-model
// settings of its drift windows.
//
//   monitoring:
//     window_rows: 1000        # rows per window (default: the server's --window-rows)
//     window_seconds: 3600     # seconds per window (default: --window-seconds)
//     drift:
//       p_value: 0.05          # tests (KS, chi-square) drift below it
//       distance: 0.1          # distances (Wasserstein, Jensen-Shannon) drift above it
//       test_rows: 1000        # up to this many rows a test decides, beyond it a distance
//       psi_warning: 0.1       # PSI levels reported with every feature
//       psi_alarm: 0.25
//       share: 0.5             # dataset drift when this share of features drift
//       features:              # a feature's (or "prediction"'s) own test and threshold
//         Age: {test: psi, threshold: 0.2}
//         Home: {test: chi_square, threshold: 0.01}
//
// The defaults follow the field's conventions (Evidently's choice of test by
// type and size, PSI's 0.1 / 0.25 levels).
//
// Thread-safety: immutable after parsing.
#ifndef VIGIL_REPOSITORY_MONITORING_CONFIG_H_
#define VIGIL_REPOSITORY_MONITORING_CONFIG_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace YAML {
class Node;
}

namespace vigil {

struct FeatureDriftTest {
  std::string test;  // "ks", "wasserstein", "chi_square", "jensen_shannon" or "psi".
  double threshold = 0;  // A p-value for tests, a distance or PSI level otherwise.
};

struct DriftSettings {
  double p_value = 0.05;
  double distance = 0.1;
  int64_t test_rows = 1000;
  double psi_warning = 0.1;
  double psi_alarm = 0.25;
  double share = 0.5;
  std::map<std::string, FeatureDriftTest> features;  // By feature name, or "prediction".
};

struct MonitoringConfig {
  int64_t window_rows = 0;     // 0: the server's default.
  int64_t window_seconds = 0;  // 0: the server's default.
  DriftSettings drift;
};

// Parses `monitoring:`. `numeric` and `categorical` are the model's feature
// names by type (a feature's own test must suit its type). Errors name the
// key, e.g. "monitoring.drift.features.Age.test: ...".
Result<MonitoringConfig> ParseMonitoringConfig(const YAML::Node& node, const std::vector<std::string>& numeric,
                                               const std::vector<std::string>& categorical);

}  // namespace vigil

#endif  // VIGIL_REPOSITORY_MONITORING_CONFIG_H_
