// DriftMonitor: production windows per model version, compared with the
// version's reference profile.
//
// The prediction log's writer hands it every logged request (off the request
// path). Each version has an open window that counts the rows' values into
// the reference bins (reference_profile.h); it closes after `window_rows`
// rows or `window_duration`, whichever comes first, and then every feature's
// drift is computed (drift.h) and the window joins the version's recent
// history. Statistics follow the field's defaults (as Evidently chooses
// them): for a numeric feature, Kolmogorov-Smirnov (p < 0.05) up to 1,000
// rows and the normalised Wasserstein distance (> 0.1) beyond; for a
// categorical one, chi-square (p < 0.05) up to 1,000 rows and the
// Jensen-Shannon distance (> 0.1) beyond; PSI is reported for all. The
// dataset drifts when at least half of its features do.
//
// Data quality per window, each as a rate: per feature, missing values,
// numeric values outside the reference range, and categories the model does
// not know (sent to it as missing, but counted apart from missing values);
// per window, requests refused because their inputs did not fit the model
// (missing or extra features, wrong datatypes or shapes, values of the wrong
// type).
//
// Thread-safety: thread-safe.
#ifndef VIGIL_MONITOR_DRIFT_MONITOR_H_
#define VIGIL_MONITOR_DRIFT_MONITOR_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <set>
#include <string>
#include <vector>

#include "common/tensor.h"
#include "monitor/metrics.h"
#include "monitor/reference_profile.h"
#include "repository/model_config.h"
#include "store/store.h"

namespace vigil {

struct DriftMonitorOptions {
  std::filesystem::path repository;  // Where versions (and their profile.json) live.
  int64_t window_rows = 1000;
  std::chrono::milliseconds window_duration{std::chrono::hours(1)};
  size_t history = 24;               // Closed windows kept per version.
  // Where closed windows are saved as counts, and read back from when a
  // version is first seen after a restart (may be null).
  Store* store = nullptr;
  std::string source;                // This server (host:port), saved with each window.
};
// Window sizes and drift settings come from the model's `monitoring:`
// (repository/monitoring_config.h) where it gives them.

struct FeatureDrift {
  std::string name;
  bool categorical = false;
  std::string test;        // "ks", "wasserstein", "chi_square", "jensen_shannon" or "psi".
  double score = 0;        // The chosen test's statistic or distance.
  double p_value = 1;      // For tests; 1 for distances.
  bool drifted = false;
  double psi = 0;
  std::string psi_level;   // "ok", "warning" or "alarm" by the PSI levels.
  double jensen_shannon = 0;
  double wasserstein = 0;  // Numeric only.
  double ks_statistic = 0, ks_p_value = 1;  // Numeric only.
  double chi_square = 0, chi_square_p_value = 1;  // Categorical only.
  double missing_rate = 0;        // Missing values (null, NaN), unseen categories excluded.
  double out_of_range_rate = 0;  // Numeric: outside the reference's [min, max].
  double unseen_rate = 0;        // Categorical: a category the model does not know.
};

struct WindowReport {
  int64_t start_ms = 0, end_ms = 0;
  int64_t rows = 0;
  int64_t requests = 0;  // Logged requests.
  int64_t rejected = 0;  // Requests refused for their inputs (sampled like the log).
  double schema_violation_rate = 0;  // rejected / (requests + rejected).
  std::vector<FeatureDrift> features;
  FeatureDrift prediction;
  double drift_share = 0;
  bool dataset_drift = false;
};

// A closed window of a version, with what it was compared against.
struct ClosedWindow {
  std::shared_ptr<const ModelConfig> config;
  int64_t version = 0;
  std::shared_ptr<const ReferenceProfile> profile;
  WindowReport report;
  std::string counts_json;  // The window's counts (DriftMonitor::CountsToJson), when there is a store.
};

class DriftMonitor {
 public:
  DriftMonitor(DriftMonitorOptions options, MetricsRegistry& registry);
  // Saves the closed windows not saved yet.
  ~DriftMonitor();

  // Called with every closed window, on the thread that closed it (the
  // prediction log's writer), outside the monitor's lock. Set before use.
  using WindowListener = std::function<void(const ClosedWindow&)>;
  void SetWindowListener(WindowListener listener) { listener_ = std::move(listener); }

  // Counts one logged request: `features` FP32 [N, F] in model order (NaN
  // for missing), `scores` one per row (NaN when the model has none).
  // `unseen`: cells (row * F + feature) that held an unseen category.
  void Observe(const std::shared_ptr<const ModelConfig>& config, int64_t version, int64_t time_ms,
               const Tensor& features, const std::vector<float>& scores, std::vector<int64_t> unseen = {});
  // The same over a row-major [rows, num_features] matrix.
  void Observe(const std::shared_ptr<const ModelConfig>& config, int64_t version, int64_t time_ms,
               const float* features, int64_t rows, int64_t num_features, std::span<const float> scores,
               std::vector<int64_t> unseen);
  // Counts one request refused because its inputs did not fit the model.
  void ObserveRejected(const std::shared_ptr<const ModelConfig>& config, int64_t version, int64_t time_ms);

  // Closes windows whose time is up, and saves the closed windows to the
  // store, all in one transaction (called periodically: the prediction
  // log's writer calls it after every drain).
  void Tick(int64_t now_ms);

  // Forgets the versions not in `serving` (model, version): closes their open
  // window (saved and reported like any other), drops their windows from
  // memory and their series from /metrics. Their saved windows stay in the
  // store and come back if the version serves again. Without it, every
  // version a long-running server ever served would stay in memory.
  void Retain(const std::set<std::pair<std::string, int64_t>>& serving, int64_t now_ms);

  // Starts watching a version before its first request, so that its saved
  // windows show (the /monitor endpoint calls it for every ready version).
  void Track(const std::shared_ptr<const ModelConfig>& config, int64_t version);

  // The version's closed windows, oldest first, and the open one's row
  // count; false if the version has no reference profile.
  struct VersionView {
    int64_t version = 0;
    bool has_profile = false;
    std::string profile_error;
    int64_t open_rows = 0;
    std::vector<WindowReport> windows;
  };
  std::vector<VersionView> Snapshot(const std::string& model) const;

  // Drift statistics of one window's counts against a profile (exposed for
  // tests and the CLI).
  struct Counts {
    int64_t rows = 0;
    int64_t requests = 0, rejected = 0;
    std::vector<std::vector<double>> bins;  // Per feature, then the prediction last.
    std::vector<int64_t> missing, out_of_range, unseen;
  };
  static Counts EmptyCounts(const ReferenceProfile& profile);
  // Counts `num_rows` rows of `num_features` features each (row-major) and
  // their scores (null: none, counted as missing).
  static void Count(const ReferenceProfile& profile, const float* rows, int64_t num_rows, size_t num_features,
                    const float* scores, Counts* counts);
  // Moves one of feature `feature`'s missing values of the counted rows to
  // the unseen categories.
  static void CountUnseen(size_t feature, Counts* counts);
  static WindowReport Report(const ReferenceProfile& profile, const Counts& counts, const DriftSettings& settings);
  // Windows merge by adding their counts (over time, and across replicas).
  static void Merge(const Counts& from, Counts* into);
  static std::string CountsToJson(const Counts& counts);
  // INVALID_ARGUMENT if the counts do not fit `profile`'s bins.
  static Result<Counts> CountsFromJson(const std::string& text, const ReferenceProfile& profile);

 private:
  // A version's window gauges, looked up once: a lookup builds and compares
  // label vectors, about a hundred per window, and windows of 64-row
  // requests close hundreds of times a second. (The families never drop a
  // child, so the pointers stay valid.)
  struct WindowGauges {
    struct Feature {
      Gauge* drifted = nullptr;
      Gauge* missing_rate = nullptr;
      Gauge* range_rate = nullptr;      // Unseen categories, or out of the reference range.
      std::vector<Gauge*> statistics;  // In StatisticNames' order (drift_monitor.cc).
    };
    std::vector<Feature> features;  // In the profile's order.
    std::vector<Gauge*> prediction_statistics;
    Gauge* schema_violation_rate = nullptr;
    Gauge* drift_share = nullptr;
    Counter* windows = nullptr;
  };
  struct VersionState {
    std::shared_ptr<const ModelConfig> config;
    std::shared_ptr<const ReferenceProfile> profile;
    std::string profile_error;
    Counts open;
    int64_t open_since_ms = 0;
    std::deque<WindowReport> closed;
    std::unique_ptr<WindowGauges> gauges;  // At the first window closed.
  };
  const WindowGauges& Gauges(int64_t version, VersionState& state);
  // Removes the series Gauges() made.
  void RemoveGauges(int64_t version, VersionState& state);
  VersionState& State(const std::shared_ptr<const ModelConfig>& config, int64_t version);
  // Reads the version's saved windows back (a restart, another replica).
  void Restore(VersionState& state, int64_t version);
  // Closes the open window; the report goes to `closed` for the listener.
  void Close(int64_t version, VersionState& state, int64_t now_ms, std::vector<ClosedWindow>* closed);
  // Queues the windows for saving, and tells the listener.
  void Notify(const std::vector<ClosedWindow>& closed);
  void SaveWindows();

  const DriftMonitorOptions options_;
  Family<Gauge>& feature_drift_;
  Family<Gauge>& feature_drifted_;
  Family<Gauge>& dataset_drift_share_;
  Family<Gauge>& missing_rate_;
  Family<Gauge>& out_of_range_rate_;
  Family<Gauge>& unseen_rate_;
  Family<Gauge>& schema_violation_rate_;
  Family<Counter>& windows_;
  WindowListener listener_;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int64_t>, VersionState> versions_;
  std::mutex unsaved_mu_;
  std::vector<StoredWindow> unsaved_;  // Closed, not yet in the store.
};

}  // namespace vigil

#endif  // VIGIL_MONITOR_DRIFT_MONITOR_H_
