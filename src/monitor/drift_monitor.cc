#include "monitor/drift_monitor.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>

#include "common/json_text.h"
#include "monitor/drift.h"

namespace vigil {
namespace {

// Up to `test_rows` rows a window is judged by a statistical test, beyond
// it by a distance (a test on many rows flags differences too small to
// matter), unless the feature has its own test.
FeatureDrift Compare(const ColumnProfile& ref, const std::vector<double>& window, int64_t rows, int64_t missing,
                     int64_t out_of_range, int64_t unseen, const DriftSettings& settings) {
  FeatureDrift d;
  d.name = ref.name;
  d.categorical = ref.categorical;
  const double n = static_cast<double>(rows);
  d.missing_rate = rows > 0 ? static_cast<double>(missing) / n : 0.0;
  d.out_of_range_rate = rows > 0 ? static_cast<double>(out_of_range) / n : 0.0;
  d.unseen_rate = rows > 0 ? static_cast<double>(unseen) / n : 0.0;
  const double present = std::accumulate(window.begin(), window.end(), 0.0);
  if (present <= 0) return d;
  d.psi = PopulationStabilityIndex(ref.counts, window);
  d.psi_level = d.psi > settings.psi_alarm ? "alarm" : d.psi > settings.psi_warning ? "warning" : "ok";
  d.jensen_shannon = JensenShannonDistance(ref.counts, window);
  const bool by_test = present <= static_cast<double>(settings.test_rows);
  if (ref.categorical) {
    const TestResult chi = ChiSquare(ref.counts, window);
    d.chi_square = chi.statistic;
    d.chi_square_p_value = chi.p_value;
    d.test = by_test ? "chi_square" : "jensen_shannon";
  } else {
    const TestResult ks = KolmogorovSmirnov(ref.counts, window);
    d.ks_statistic = ks.statistic;
    d.ks_p_value = ks.p_value;
    d.wasserstein = NormalizedWasserstein(ref.counts, window, ref.centers, std::sqrt(ref.variance));
    d.test = by_test ? "ks" : "wasserstein";
  }
  double threshold = by_test ? settings.p_value : settings.distance;
  if (auto own = settings.features.find(ref.name); own != settings.features.end()) {
    d.test = own->second.test;
    threshold = own->second.threshold;
  }
  if (d.test == "ks" || d.test == "chi_square") {
    d.score = d.test == "ks" ? d.ks_statistic : d.chi_square;
    d.p_value = d.test == "ks" ? d.ks_p_value : d.chi_square_p_value;
    d.drifted = d.p_value < threshold;
  } else {
    d.score = d.test == "psi" ? d.psi : d.test == "wasserstein" ? d.wasserstein : d.jensen_shannon;
    d.drifted = d.score > threshold;
  }
  return d;
}

}  // namespace

DriftMonitor::DriftMonitor(DriftMonitorOptions options, MetricsRegistry& registry)
    : options_(std::move(options)),
      feature_drift_(registry.AddGauge("vigil_feature_drift",
                                       "Drift of a feature (or of the prediction) in the last closed window, by "
                                       "statistic: psi, jensen_shannon, wasserstein, ks, ks_p_value, chi_square, "
                                       "chi_square_p_value",
                                       {"model", "version", "feature", "statistic"})),
      feature_drifted_(registry.AddGauge("vigil_feature_drifted",
                                         "1 if the feature drifted in the last closed window by its default test",
                                         {"model", "version", "feature"})),
      dataset_drift_share_(registry.AddGauge("vigil_dataset_drift_share",
                                             "Share of features that drifted in the last closed window",
                                             {"model", "version"})),
      missing_rate_(registry.AddGauge("vigil_feature_missing_rate",
                                      "Share of rows missing the feature in the last closed window",
                                      {"model", "version", "feature"})),
      out_of_range_rate_(registry.AddGauge("vigil_feature_out_of_range_rate",
                                           "Share of rows with a numeric feature outside the reference's range in "
                                           "the last closed window",
                                           {"model", "version", "feature"})),
      unseen_rate_(registry.AddGauge("vigil_feature_unseen_category_rate",
                                     "Share of rows with a category the model does not know in the last closed "
                                     "window",
                                     {"model", "version", "feature"})),
      schema_violation_rate_(registry.AddGauge("vigil_schema_violation_rate",
                                               "Share of requests refused because their inputs did not fit the "
                                               "model, in the last closed window",
                                               {"model", "version"})),
      windows_(registry.AddCounter("vigil_monitor_windows_total", "Monitoring windows closed", {"model", "version"})) {}

DriftMonitor::Counts DriftMonitor::EmptyCounts(const ReferenceProfile& profile) {
  Counts c;
  for (const ColumnProfile& f : profile.features) c.bins.emplace_back(f.counts.size(), 0.0);
  c.bins.emplace_back(profile.prediction.counts.size(), 0.0);
  c.missing.assign(profile.features.size() + 1, 0);
  c.out_of_range.assign(profile.features.size() + 1, 0);
  c.unseen.assign(profile.features.size() + 1, 0);
  return c;
}

void DriftMonitor::CountUnseen(size_t feature, Counts* counts) {
  // Not a feature (the prediction's slot is last), or no missing value to move.
  if (feature + 1 >= counts->missing.size() || counts->missing[feature] == 0) return;
  --counts->missing[feature];
  ++counts->unseen[feature];
}

void DriftMonitor::Count(const ReferenceProfile& profile, const float* rows, int64_t num_rows, size_t num_features,
                         const float* scores, Counts* counts) {
  counts->rows += num_rows;
  // Slot i of `counts` is feature i; the prediction's is the last one.
  // Column by column: a column's edges and bins stay at hand for the block.
  auto count = [&](size_t slot, const ColumnProfile& col, const float* values, size_t stride) {
    double* bins = counts->bins[slot].data();
    int64_t missing = 0, out_of_range = 0;
    if (col.categorical) {
      // NaN fails both comparisons: missing, as a code outside the categories.
      const float categories = static_cast<float>(col.counts.size());
      for (int64_t r = 0; r < num_rows; ++r) {
        const float v = values[r * stride];
        if (v >= 0 && v < categories) {
          bins[static_cast<size_t>(v)] += 1;
        } else {
          ++missing;
        }
      }
    } else {
      const bool fast = col.float_edges_ready();
      for (int64_t r = 0; r < num_rows; ++r) {
        const float v = values[r * stride];
        if (std::isnan(v)) {
          ++missing;
          continue;
        }
        bins[fast ? col.BinOfFloat(v) : col.Bin(v)] += 1;
        out_of_range += (v < col.min || v > col.max) ? 1 : 0;
      }
    }
    counts->missing[slot] += missing;
    counts->out_of_range[slot] += out_of_range;
  };
  const size_t features = profile.features.size();
  for (size_t j = 0; j < std::min(num_features, features); ++j) count(j, profile.features[j], rows + j, num_features);
  if (scores) {
    count(features, profile.prediction, scores, 1);
  } else {
    counts->missing[features] += num_rows;
  }
}

WindowReport DriftMonitor::Report(const ReferenceProfile& profile, const Counts& counts,
                                  const DriftSettings& settings) {
  WindowReport r;
  r.rows = counts.rows;
  r.requests = counts.requests;
  r.rejected = counts.rejected;
  if (counts.requests + counts.rejected > 0) {
    r.schema_violation_rate =
        static_cast<double>(counts.rejected) / static_cast<double>(counts.requests + counts.rejected);
  }
  int drifted = 0;
  for (size_t j = 0; j < profile.features.size(); ++j) {
    r.features.push_back(Compare(profile.features[j], counts.bins[j], counts.rows, counts.missing[j],
                                 counts.out_of_range[j], counts.unseen[j], settings));
    drifted += r.features.back().drifted ? 1 : 0;
  }
  const size_t p = profile.features.size();
  r.prediction =
      Compare(profile.prediction, counts.bins[p], counts.rows, counts.missing[p], counts.out_of_range[p], 0, settings);
  r.drift_share = profile.features.empty() ? 0.0 : static_cast<double>(drifted) / static_cast<double>(profile.features.size());
  r.dataset_drift = r.drift_share >= settings.share;
  return r;
}

DriftMonitor::VersionState& DriftMonitor::State(const std::shared_ptr<const ModelConfig>& shared, int64_t version) {
  const ModelConfig& config = *shared;
  auto [it, added] = versions_.try_emplace({config.name, version});
  VersionState& s = it->second;
  s.config = shared;  // The latest, should model.yaml have changed.
  if (added) {
    const auto path = options_.repository / config.name / std::to_string(version) / "profile.json";
    auto profile = ReadReferenceProfile(path);
    if (!profile.ok()) {
      s.profile_error = profile.status().message();
      spdlog::info("model {} version {}: no drift monitoring: {}", config.name, version, s.profile_error);
    } else if (profile->features.size() != config.features.size()) {
      s.profile_error = path.string() + " profiles " + std::to_string(profile->features.size()) +
                        " features, the model has " + std::to_string(config.features.size());
      spdlog::warn("model {} version {}: {}", config.name, version, s.profile_error);
    } else {
      s.profile = std::make_shared<const ReferenceProfile>(std::move(*profile));
      s.open = EmptyCounts(*s.profile);
      Restore(s, version);
    }
  }
  return s;
}

void DriftMonitor::Restore(VersionState& s, int64_t version) {
  if (!options_.store) return;
  auto saved = options_.store->Windows(s.config->name, version, static_cast<int64_t>(options_.history));
  if (!saved.ok()) {
    spdlog::warn("model {} version {}: saved windows not read: {}", s.config->name, version,
                 saved.status().ToString());
    return;
  }
  for (const StoredWindow& w : *saved) {
    auto counts = CountsFromJson(w.counts, *s.profile);
    if (!counts.ok()) continue;  // Counted against another profile.
    WindowReport report = Report(*s.profile, *counts, s.config->monitoring.drift);
    report.start_ms = w.start_ms;
    report.end_ms = w.end_ms;
    s.closed.push_back(std::move(report));
  }
}

void DriftMonitor::Track(const std::shared_ptr<const ModelConfig>& config, int64_t version) {
  std::lock_guard lock(mu_);
  State(config, version);
}

void DriftMonitor::Merge(const Counts& from, Counts* into) {
  into->rows += from.rows;
  into->requests += from.requests;
  into->rejected += from.rejected;
  for (size_t j = 0; j < into->bins.size() && j < from.bins.size(); ++j) {
    for (size_t b = 0; b < into->bins[j].size() && b < from.bins[j].size(); ++b) into->bins[j][b] += from.bins[j][b];
  }
  for (size_t j = 0; j < into->missing.size() && j < from.missing.size(); ++j) {
    into->missing[j] += from.missing[j];
    into->out_of_range[j] += from.out_of_range[j];
    into->unseen[j] += from.unseen[j];
  }
}

std::string DriftMonitor::CountsToJson(const Counts& c) {
  // Written directly (numbers only, no escaping): every closed window is
  // saved, and building a JSON document for it cost the writer more than
  // the statistics.
  std::string out;
  out.reserve(64 + 8 * c.bins.size() * (c.bins.empty() ? 0 : c.bins[0].size() + 4));
  auto number = [&](auto v) { AppendJsonNumber(out, v); };
  auto array = [&](const auto& values) {
    out += '[';
    for (size_t i = 0; i < values.size(); ++i) {
      if (i) out += ',';
      number(values[i]);
    }
    out += ']';
  };
  out += "{\"rows\":";
  number(c.rows);
  out += ",\"requests\":";
  number(c.requests);
  out += ",\"rejected\":";
  number(c.rejected);
  out += ",\"bins\":[";
  for (size_t j = 0; j < c.bins.size(); ++j) {
    if (j) out += ',';
    array(c.bins[j]);
  }
  out += "],\"missing\":";
  array(c.missing);
  out += ",\"out_of_range\":";
  array(c.out_of_range);
  out += ",\"unseen\":";
  array(c.unseen);
  out += '}';
  return out;
}

Result<DriftMonitor::Counts> DriftMonitor::CountsFromJson(const std::string& text, const ReferenceProfile& profile) {
  Counts c = EmptyCounts(profile);
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    Counts read;
    read.rows = j.at("rows").get<int64_t>();
    read.requests = j.at("requests").get<int64_t>();
    read.rejected = j.at("rejected").get<int64_t>();
    read.bins = j.at("bins").get<std::vector<std::vector<double>>>();
    read.missing = j.at("missing").get<std::vector<int64_t>>();
    read.out_of_range = j.at("out_of_range").get<std::vector<int64_t>>();
    read.unseen = j.at("unseen").get<std::vector<int64_t>>();
    bool fits = read.bins.size() == c.bins.size() && read.missing.size() == c.missing.size() &&
                read.out_of_range.size() == c.missing.size() && read.unseen.size() == c.missing.size();
    for (size_t j2 = 0; fits && j2 < c.bins.size(); ++j2) fits = read.bins[j2].size() == c.bins[j2].size();
    if (!fits) return Status::InvalidArgument("window counts do not fit the reference profile's bins");
    return read;
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string("window counts: ") + e.what());
  }
}

void DriftMonitor::Observe(const std::shared_ptr<const ModelConfig>& config, int64_t version, int64_t time_ms,
                           const Tensor& features, const std::vector<float>& scores, std::vector<int64_t> unseen) {
  if (features.shape().size() != 2) return;
  Observe(config, version, time_ms, features.values<float>().data(), features.shape()[0], features.shape()[1], scores,
          std::move(unseen));
}

void DriftMonitor::Observe(const std::shared_ptr<const ModelConfig>& config, int64_t version, int64_t time_ms,
                           const float* features, int64_t rows, int64_t num_features, std::span<const float> scores,
                           std::vector<int64_t> unseen) {
  const size_t f = static_cast<size_t>(num_features);
  std::sort(unseen.begin(), unseen.end());  // By row, so each row's are moved after it is counted.
  auto next_unseen = unseen.begin();
  std::vector<ClosedWindow> closed;
  {
    std::lock_guard lock(mu_);
    VersionState& s = State(config, version);
    if (!s.profile) return;
    ++s.open.requests;
    // A score per row, NaN where the request had fewer (none were counted).
    std::vector<float> padded;
    if (std::ssize(scores) < rows) {
      padded.assign(scores.begin(), scores.end());
      padded.resize(static_cast<size_t>(rows), NAN);
      scores = padded;
    }
    const int64_t window_rows = config->monitoring.window_rows ? config->monitoring.window_rows : options_.window_rows;
    // In blocks that end where a window fills.
    for (int64_t r = 0; r < rows;) {
      if (s.open.rows == 0 && s.open.rejected == 0) s.open_since_ms = time_ms;
      const int64_t end = std::min(rows, r + std::max<int64_t>(1, window_rows - s.open.rows));
      Count(*s.profile, features + r * f, end - r, f, scores.data() + r, &s.open);
      for (; next_unseen != unseen.end() && *next_unseen < end * static_cast<int64_t>(f); ++next_unseen) {
        CountUnseen(static_cast<size_t>(*next_unseen % static_cast<int64_t>(f)), &s.open);
      }
      if (s.open.rows >= window_rows) Close(version, s, time_ms, &closed);
      r = end;
    }
  }
  Notify(closed);
}

void DriftMonitor::ObserveRejected(const std::shared_ptr<const ModelConfig>& config, int64_t version,
                                   int64_t time_ms) {
  std::lock_guard lock(mu_);
  VersionState& s = State(config, version);
  if (!s.profile) return;
  if (s.open.rows == 0 && s.open.rejected == 0) s.open_since_ms = time_ms;
  ++s.open.rejected;
}

void DriftMonitor::Tick(int64_t now_ms) {
  std::vector<ClosedWindow> closed;
  {
    std::lock_guard lock(mu_);
    for (auto& [key, s] : versions_) {
      if (!s.profile || (s.open.rows == 0 && s.open.rejected == 0)) continue;
      const int64_t seconds = s.config->monitoring.window_seconds;
      const int64_t duration_ms = seconds ? seconds * 1000 : options_.window_duration.count();
      if (now_ms - s.open_since_ms >= duration_ms) {
        Close(key.second, s, now_ms, &closed);
      }
    }
  }
  Notify(closed);
  SaveWindows();
}

DriftMonitor::~DriftMonitor() { SaveWindows(); }

void DriftMonitor::Notify(const std::vector<ClosedWindow>& closed) {
  for (const ClosedWindow& w : closed) {
    if (options_.store) {
      std::lock_guard lock(unsaved_mu_);
      unsaved_.push_back(
          {w.config->name, w.version, w.report.start_ms, w.report.end_ms, options_.source, w.counts_json});
    }
    if (listener_) listener_(w);
  }
}

void DriftMonitor::SaveWindows() {
  // A transaction per batch rather than per window: at hundreds of windows
  // a second, a commit each cost the writer more than counting them.
  std::vector<StoredWindow> windows;
  {
    std::lock_guard lock(unsaved_mu_);
    windows.swap(unsaved_);
  }
  if (windows.empty() || !options_.store) return;
  if (Status s = options_.store->AppendWindows(windows); !s.ok()) {
    spdlog::warn("{} closed windows not saved: {}", windows.size(), s.ToString());
  }
}

namespace {

// The drift statistics on /metrics, by the kind of column.
constexpr const char* kNumericStatistics[] = {"psi", "jensen_shannon", "wasserstein", "ks", "ks_p_value"};
constexpr const char* kCategoricalStatistics[] = {"psi", "jensen_shannon", "chi_square", "chi_square_p_value"};

std::span<const char* const> StatisticNames(bool categorical) {
  if (categorical) return kCategoricalStatistics;
  return kNumericStatistics;
}

// `fd`'s values in StatisticNames' order.
std::array<double, 5> StatisticValues(const FeatureDrift& fd) {
  if (fd.categorical) return {fd.psi, fd.jensen_shannon, fd.chi_square, fd.chi_square_p_value, 0};
  return {fd.psi, fd.jensen_shannon, fd.wasserstein, fd.ks_statistic, fd.ks_p_value};
}

}  // namespace

const DriftMonitor::WindowGauges& DriftMonitor::Gauges(int64_t version, VersionState& s) {
  if (s.gauges) return *s.gauges;
  auto g = std::make_unique<WindowGauges>();
  const std::string& model = s.config->name;
  const std::string v = std::to_string(version);
  auto statistics = [&](const ColumnProfile& col) {
    std::vector<Gauge*> out;
    for (const char* statistic : StatisticNames(col.categorical)) {
      out.push_back(&feature_drift_.WithLabels({model, v, col.name, statistic}));
    }
    return out;
  };
  for (const ColumnProfile& col : s.profile->features) {
    WindowGauges::Feature& f = g->features.emplace_back();
    f.drifted = &feature_drifted_.WithLabels({model, v, col.name});
    f.missing_rate = &missing_rate_.WithLabels({model, v, col.name});
    f.range_rate = col.categorical ? &unseen_rate_.WithLabels({model, v, col.name})
                                   : &out_of_range_rate_.WithLabels({model, v, col.name});
    f.statistics = statistics(col);
  }
  g->prediction_statistics = statistics(s.profile->prediction);
  g->schema_violation_rate = &schema_violation_rate_.WithLabels({model, v});
  g->drift_share = &dataset_drift_share_.WithLabels({model, v});
  g->windows = &windows_.WithLabels({model, v});
  s.gauges = std::move(g);
  return *s.gauges;
}

void DriftMonitor::RemoveGauges(int64_t version, VersionState& s) {
  if (!s.gauges) return;
  const std::string& model = s.config->name;
  const std::string v = std::to_string(version);
  auto statistics = [&](const ColumnProfile& col) {
    for (const char* statistic : StatisticNames(col.categorical)) feature_drift_.Remove({model, v, col.name, statistic});
  };
  for (const ColumnProfile& col : s.profile->features) {
    feature_drifted_.Remove({model, v, col.name});
    missing_rate_.Remove({model, v, col.name});
    (col.categorical ? unseen_rate_ : out_of_range_rate_).Remove({model, v, col.name});
    statistics(col);
  }
  statistics(s.profile->prediction);
  schema_violation_rate_.Remove({model, v});
  dataset_drift_share_.Remove({model, v});
  windows_.Remove({model, v});
  s.gauges.reset();
}

void DriftMonitor::Retain(const std::set<std::pair<std::string, int64_t>>& serving, int64_t now_ms) {
  std::vector<ClosedWindow> closed;
  {
    std::lock_guard lock(mu_);
    for (auto it = versions_.begin(); it != versions_.end();) {
      if (serving.count(it->first)) {
        ++it;
        continue;
      }
      VersionState& s = it->second;
      if (s.profile && (s.open.rows > 0 || s.open.rejected > 0)) Close(it->first.second, s, now_ms, &closed);
      RemoveGauges(it->first.second, s);
      it = versions_.erase(it);
    }
  }
  Notify(closed);
  SaveWindows();
}

void DriftMonitor::Close(int64_t version, VersionState& s, int64_t now_ms, std::vector<ClosedWindow>* closed) {
  WindowReport report = Report(*s.profile, s.open, s.config->monitoring.drift);
  report.start_ms = s.open_since_ms;
  report.end_ms = now_ms;
  const WindowGauges& g = Gauges(version, s);
  auto set_statistics = [](const std::vector<Gauge*>& gauges, const FeatureDrift& fd) {
    const std::array<double, 5> values = StatisticValues(fd);
    for (size_t i = 0; i < gauges.size(); ++i) gauges[i]->Set(values[i]);
  };
  for (size_t j = 0; j < report.features.size(); ++j) {
    const FeatureDrift& fd = report.features[j];
    const WindowGauges::Feature& f = g.features[j];
    f.drifted->Set(fd.drifted ? 1 : 0);
    f.missing_rate->Set(fd.missing_rate);
    f.range_rate->Set(fd.categorical ? fd.unseen_rate : fd.out_of_range_rate);
    set_statistics(f.statistics, fd);
  }
  set_statistics(g.prediction_statistics, report.prediction);
  g.schema_violation_rate->Set(report.schema_violation_rate);
  g.drift_share->Set(report.drift_share);
  g.windows->Increment();
  closed->push_back({s.config, version, s.profile, report, options_.store ? CountsToJson(s.open) : std::string()});
  s.closed.push_back(std::move(report));
  while (s.closed.size() > options_.history) s.closed.pop_front();
  s.open = EmptyCounts(*s.profile);
}

std::vector<DriftMonitor::VersionView> DriftMonitor::Snapshot(const std::string& model) const {
  std::lock_guard lock(mu_);
  std::vector<VersionView> out;
  for (const auto& [key, s] : versions_) {
    if (key.first != model) continue;
    VersionView v;
    v.version = key.second;
    v.has_profile = s.profile != nullptr;
    v.profile_error = s.profile_error;
    v.open_rows = s.open.rows;
    v.windows.assign(s.closed.begin(), s.closed.end());
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace vigil
