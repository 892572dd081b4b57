#include "lifecycle/xgboost_trainer.h"

#include <xgboost/c_api.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <vector>

#include "dataset/tabular_dataset.h"
#include "lifecycle/feature_matrix.h"
#include "monitor/classification_metrics.h"
#include "monitor/reference_profile.h"
#include "repository/model_config.h"
#include "repository/model_repository.h"

namespace vigil {
namespace {

namespace fs = std::filesystem;

std::string LastError() {
  const char* e = XGBGetLastError();
  return e ? e : "unknown XGBoost error";
}

#define XGB_CHECK(call)                                                      \
  do {                                                                       \
    if ((call) != 0) return Status::Internal(#call ": " + LastError());      \
  } while (0)

// The model's probabilities for the rows of `matrix`; valid until the
// booster's next prediction.
Result<const float*> Probabilities(BoosterHandle booster, DMatrixHandle matrix) {
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* out = nullptr;
  XGB_CHECK(XGBoosterPredictFromDMatrix(
      booster, matrix,
      R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false})", &shape,
      &dim, &out));
  return out;
}

// Owns a DMatrix handle.
struct MatrixDeleter {
  void operator()(void* h) const { XGDMatrixFree(h); }
};
using Matrix = std::unique_ptr<void, MatrixDeleter>;
struct BoosterDeleter {
  void operator()(void* h) const { XGBoosterFree(h); }
};
using Booster = std::unique_ptr<void, BoosterDeleter>;

struct Split {
  std::vector<float> features;  // Row-major.
  std::vector<float> labels;
  size_t rows() const { return labels.size(); }
};

Result<Matrix> MakeMatrix(const Split& split, size_t num_features,
                          std::vector<const char*> names,
                          std::vector<const char*> types) {
  DMatrixHandle h = nullptr;
  XGB_CHECK(XGDMatrixCreateFromMat(split.features.data(), split.rows(), num_features,
                                   std::numeric_limits<float>::quiet_NaN(), &h));
  Matrix m(h);
  XGB_CHECK(XGDMatrixSetFloatInfo(h, "label", split.labels.data(), split.rows()));
  XGB_CHECK(XGDMatrixSetStrFeatureInfo(h, "feature_name", names.data(), names.size()));
  XGB_CHECK(XGDMatrixSetStrFeatureInfo(h, "feature_type", types.data(), types.size()));
  return m;
}

// Reads "validation-auc:0.8123" out of XGBoost's evaluation line.
double ParseMetric(const std::string& line, const std::string& key) {
  size_t p = line.find(key + ":");
  if (p == std::string::npos) return std::numeric_limits<double>::quiet_NaN();
  return std::strtod(line.c_str() + p + key.size() + 1, nullptr);
}

std::string Fixed(double v, int digits = 4) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

}  // namespace

Result<TrainReport> TrainXGBoostClassifier(const TrainOptions& options,
                                           const std::function<void(const std::string&)>& progress) {
  if (!ModelRepository::IsValidModelName(options.model_name)) {
    return Status::InvalidArgument("--model: '" + options.model_name + "' is not a valid model name");
  }
  if (options.validation_fraction <= 0 || options.test_fraction <= 0 ||
      options.validation_fraction + options.test_fraction >= 0.9) {
    return Status::InvalidArgument("validation and test fractions must be positive and leave data to train on");
  }
  auto read = TabularDataset::ReadCsv(options.data);
  if (!read.ok()) return read.status();
  const TabularDataset& ds = *read;
  const int target = ds.ColumnIndex(options.target);
  if (target < 0) return Status::InvalidArgument("--target: no column '" + options.target + "' in " + options.data.string());
  const Column& label_col = ds.columns()[target];
  std::optional<ModelConfig> existing;
  const ModelConfig* base = options.base;
  if (!base && fs::exists(options.repository / options.model_name / "model.yaml")) {
    auto loaded = LoadModelConfig(options.repository / options.model_name / "model.yaml", options.model_name);
    if (!loaded.ok()) return loaded.status();
    existing = std::move(*loaded);
    base = &*existing;
  }
  ModelConfig config;
  std::vector<float> all_features;  // Row-major, rows x features, as the model sees them.
  std::vector<float> all_labels;    // 1 for the positive class.
  std::string positive;
  if (base) {
    // A new version of an existing model: its features, codes and classes.
    config = *base;
    config.name = options.model_name;
    if (config.classes.size() != 2) {
      return Status::FailedPrecondition("model '" + options.model_name +
                                        "' is not a binary classifier (model.yaml's classes), which is what "
                                        "vigil trains");
    }
    positive = config.classes[1];
    if (!options.positive_class.empty() && options.positive_class != positive) {
      return Status::InvalidArgument("--positive-class: model '" + options.model_name + "' has '" + positive +
                                     "' as its positive class (the second of model.yaml's classes)");
    }
    auto rows = FeatureMatrix(ds, config, "--data");
    if (!rows.ok()) return rows.status();
    all_features = std::move(*rows);
    for (size_t r = 0; r < ds.rows(); ++r) {
      int cls = -1;
      if (label_col.numeric) {
        const double v = label_col.numbers[r];
        if (v == 0 || v == 1) cls = static_cast<int>(v);
      } else {
        cls = label_col.strings[r] == config.classes[0] ? 0 : label_col.strings[r] == config.classes[1] ? 1 : -1;
      }
      if (cls < 0) {
        return Status::InvalidArgument("--target: row " + std::to_string(r + 1) + " of " + options.data.string() +
                                       " has label '" +
                                       (label_col.numeric ? Fixed(label_col.numbers[r], 6) : label_col.strings[r]) +
                                       "', not a class of model '" + options.model_name + "' (" +
                                       config.classes[0] + ", " + config.classes[1] + ", or 0 and 1)");
      }
      all_labels.push_back(static_cast<float>(cls));
    }
  } else {
    if (label_col.numeric || label_col.categories.size() != 2) {
      return Status::InvalidArgument("--target: column '" + options.target + "' must hold exactly two classes");
    }
    // Classes: [negative, positive]; by default the rarer class is positive.
    std::vector<std::string> classes = label_col.categories;
    size_t count0 = std::count(label_col.strings.begin(), label_col.strings.end(), classes[0]);
    size_t count1 = std::count(label_col.strings.begin(), label_col.strings.end(), classes[1]);
    positive = options.positive_class;
    if (positive.empty()) positive = count1 <= count0 ? classes[1] : classes[0];
    if (positive != classes[0] && positive != classes[1]) {
      return Status::InvalidArgument("--positive-class: '" + positive + "' is not a class of '" + options.target + "'");
    }
    if (classes[0] == positive) std::swap(classes[0], classes[1]);

    // Model configuration: every other column is a feature.
    config.name = options.model_name;
    config.backend = "xgboost";
    config.artifact = "model.json";
    config.classes = classes;
    for (size_t c = 0; c < ds.columns().size(); ++c) {
      if (static_cast<int>(c) == target) continue;
      const Column& col = ds.columns()[c];
      FeatureSpec f;
      f.name = col.name;
      f.kind = col.numeric ? FeatureKind::kNumeric : FeatureKind::kCategorical;
      f.categories = col.categories;
      for (size_t k = 0; k < f.categories.size(); ++k) f.category_codes[f.categories[k]] = static_cast<int>(k);
      config.features.push_back(f);
    }
    const int64_t f = static_cast<int64_t>(config.features.size());
    config.inputs.push_back({"input", DataType::kFp32, {-1, f}});
    config.outputs = {{"probability", OutputKind::kProbability, {"probability", DataType::kFp32, {-1}}},
                      {"label", OutputKind::kLabel, {"label", DataType::kBytes, {-1}}},
                      {"margin", OutputKind::kMargin, {"margin", DataType::kFp32, {-1}}}};
    auto rows = FeatureMatrix(ds, config, "--data");
    if (!rows.ok()) return rows.status();
    all_features = std::move(*rows);
    for (size_t r = 0; r < ds.rows(); ++r) all_labels.push_back(label_col.strings[r] == positive ? 1.0f : 0.0f);
  }
  if (config.artifact.empty()) config.artifact = "model.json";
  std::vector<const char*> names, types;
  for (size_t j = 0; j < config.features.size(); ++j) {
    names.push_back(config.features[j].name.c_str());
    types.push_back(config.features[j].kind == FeatureKind::kNumeric ? "q" : "c");
  }
  const int64_t nf = static_cast<int64_t>(config.features.size());

  // Seeded split.
  std::vector<size_t> order(ds.rows());
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(options.seed);
  for (size_t i = order.size(); i > 1; --i) {  // Fisher-Yates, portable across libraries.
    std::swap(order[i - 1], order[rng() % i]);
  }
  const size_t n_test = static_cast<size_t>(std::lround(ds.rows() * options.test_fraction));
  const size_t n_valid = static_cast<size_t>(std::lround(ds.rows() * options.validation_fraction));
  Split train, valid, test;
  for (size_t k = 0; k < order.size(); ++k) {
    const size_t r = order[k];
    Split& s = k < n_test ? test : (k < n_test + n_valid ? valid : train);
    s.features.insert(s.features.end(), all_features.begin() + static_cast<int64_t>(r) * nf,
                      all_features.begin() + static_cast<int64_t>(r + 1) * nf);
    s.labels.push_back(all_labels[r]);
  }
  if (train.rows() == 0 || valid.rows() == 0 || test.rows() == 0) {
    return Status::InvalidArgument("--data: " + std::to_string(ds.rows()) + " rows are too few to split into train, "
                                   "validation and test");
  }
  progress("data: " + std::to_string(ds.rows()) + " rows, " + std::to_string(nf) +
           " features; train " + std::to_string(train.rows()) + ", validation " +
           std::to_string(valid.rows()) + ", test " + std::to_string(test.rows()) +
           "; positive class '" + positive + "'");

  auto dtrain = MakeMatrix(train, nf, names, types);
  if (!dtrain.ok()) return dtrain.status();
  auto dvalid = MakeMatrix(valid, nf, names, types);
  if (!dvalid.ok()) return dvalid.status();
  auto dtest = MakeMatrix(test, nf, names, types);
  if (!dtest.ok()) return dtest.status();

  DMatrixHandle cache[2] = {dtrain->get(), dvalid->get()};
  BoosterHandle bh = nullptr;
  XGB_CHECK(XGBoosterCreate(cache, 2, &bh));
  Booster booster(bh);
  const std::pair<std::string, std::string> params[] = {
      {"objective", "binary:logistic"},
      {"eval_metric", "auc"},
      {"tree_method", "hist"},
      {"max_depth", std::to_string(options.max_depth)},
      {"eta", Fixed(options.learning_rate, 6)},
      {"subsample", Fixed(options.subsample, 6)},
      {"colsample_bytree", Fixed(options.colsample_bytree, 6)},
      {"lambda", Fixed(options.reg_lambda, 6)},
      {"alpha", Fixed(options.reg_alpha, 6)},
      {"seed", std::to_string(options.seed)},
      {"nthread", std::to_string(options.nthread)},
      {"verbosity", "1"},
  };
  for (const auto& [k, v] : params) XGB_CHECK(XGBoosterSetParam(bh, k.c_str(), v.c_str()));

  const char* eval_names[2] = {"train", "validation"};
  int best = -1;
  double best_auc = -1;
  for (int iter = 0; iter < options.rounds; ++iter) {
    XGB_CHECK(XGBoosterUpdateOneIter(bh, iter, dtrain->get()));
    const char* line = nullptr;
    XGB_CHECK(XGBoosterEvalOneIter(bh, iter, cache, eval_names, 2, &line));
    const std::string eval(line);
    const double auc = ParseMetric(eval, "validation-auc");
    if (auc > best_auc) {
      best_auc = auc;
      best = iter;
    }
    const bool stop = iter - best >= options.early_stopping_rounds;
    if (options.on_iteration && !options.on_iteration(iter, options.rounds, auc, best_auc)) {
      return Status::Cancelled("training cancelled at round " + std::to_string(iter));
    }
    if (iter % options.report_every == 0 || stop || iter + 1 == options.rounds) {
      progress("iteration " + std::to_string(iter) + "  train-auc " +
               Fixed(ParseMetric(eval, "train-auc")) + "  validation-auc " + Fixed(auc) +
               "  (best " + Fixed(best_auc) + " at " + std::to_string(best) + ")");
    }
    if (stop) {
      progress("early stop: no validation improvement in " +
               std::to_string(options.early_stopping_rounds) + " rounds");
      break;
    }
  }

  BoosterHandle sliced_handle = nullptr;
  XGB_CHECK(XGBoosterSlice(bh, 0, best + 1, 1, &sliced_handle));
  Booster sliced(sliced_handle);

  auto test_scores = Probabilities(sliced_handle, dtest->get());
  if (!test_scores.ok()) return test_scores.status();
  TrainReport report;
  report.test_auc = RocAuc({*test_scores, test.rows()}, test.labels);
  report.validation_auc = best_auc;
  report.best_iteration = best;
  report.train_rows = train.rows();
  report.validation_rows = valid.rows();
  report.test_rows = test.rows();

  // Write the version: model.yaml next to the version directories.
  const fs::path model_dir = options.repository / options.model_name;
  std::error_code ec;
  fs::create_directories(model_dir, ec);
  if (ec) return Status::Internal("cannot create " + model_dir.string() + ": " + ec.message());
  int64_t version = options.version;
  if (version == 0) {
    version = 1;
    auto existing = ModelRepository(options.repository).ScanModel(options.model_name);
    if (existing.ok() && !existing->versions.empty()) version = existing->versions.back().version + 1;
  }
  // Stage in a hidden directory and rename, so a watching server never sees
  // a half-written version.
  const fs::path staging = model_dir / (".staging-" + std::to_string(version));
  const fs::path final_dir = model_dir / std::to_string(version);
  if (fs::exists(final_dir)) return Status::FailedPrecondition(final_dir.string() + " already exists");
  fs::remove_all(staging, ec);
  fs::create_directories(staging, ec);
  if (ec) return Status::Internal("cannot create " + staging.string() + ": " + ec.message());
  XGB_CHECK(XGBoosterSaveModel(sliced_handle, (staging / config.artifact).c_str()));
  {
    // The version's reference profile, from its training rows and the
    // model's own probabilities for them: monitoring's baseline.
    auto train_scores = Probabilities(sliced_handle, dtrain->get());
    if (!train_scores.ok()) return train_scores.status();
    const ReferenceProfile profile =
        BuildReferenceProfile(config, train.features, static_cast<int64_t>(train.rows()),
                              std::span<const float>(*train_scores, train.rows()));
    VIGIL_RETURN_IF_ERROR(WriteReferenceProfile(profile, staging / "profile.json"));
  }
  const fs::path config_path = model_dir / "model.yaml";
  if (!fs::exists(config_path)) {
    std::ofstream out(config_path);
    out << "# Written by `vigil train` from " << options.data.filename().string() << ".\n"
        << ModelConfigToYaml(config);
    if (!out) return Status::Internal("cannot write " + config_path.string());
  }
  fs::rename(staging, final_dir, ec);
  if (ec) return Status::Internal("cannot move the new version into place: " + ec.message());
  report.version = version;
  report.artifact = final_dir / config.artifact;
  progress("best iteration " + std::to_string(best) + ", validation AUC " + Fixed(best_auc) +
           ", held-out test AUC " + Fixed(report.test_auc));
  return report;
}

nlohmann::json TrainedParameters(const TrainOptions& o, const TrainReport& report) {
  return {{"target", o.target},
          {"rounds", o.rounds},
          {"early_stopping_rounds", o.early_stopping_rounds},
          {"max_depth", o.max_depth},
          {"learning_rate", o.learning_rate},
          {"subsample", o.subsample},
          {"colsample_bytree", o.colsample_bytree},
          {"reg_lambda", o.reg_lambda},
          {"reg_alpha", o.reg_alpha},
          {"validation_fraction", o.validation_fraction},
          {"test_fraction", o.test_fraction},
          {"seed", o.seed},
          {"best_iteration", report.best_iteration}};
}

nlohmann::json TrainedMetrics(const TrainReport& report) {
  // A NaN AUC (a split with one class) dumps as null.
  return {{"validation_auc", report.validation_auc},
          {"test_auc", report.test_auc},
          {"train_rows", report.train_rows},
          {"validation_rows", report.validation_rows},
          {"test_rows", report.test_rows}};
}

}  // namespace vigil
