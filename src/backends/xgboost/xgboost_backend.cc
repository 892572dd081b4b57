#include "backends/xgboost/xgboost_backend.h"

#include "backends/tabular_outputs.h"

#include <xgboost/c_api.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

namespace vigil {
namespace {

// Raw scores: probabilities are derived from them (one call, not two).
constexpr char kMarginConfig[] =
    R"({"type": 1, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false, "missing": NaN, "cache_id": 0})";
// The objective's own output, for `prediction` outputs of any objective.
constexpr char kOutputConfig[] =
    R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false, "missing": NaN, "cache_id": 0})";

// A proxy DMatrix per thread, reused across calls. Without one, every
// in-place prediction builds a new proxy, and building one re-reads the
// cgroup CPU quota files (a quarter of the per-call cost in our profile).
// The proxy carries the call's array data, so it cannot be shared between
// threads.
class ThreadProxy {
 public:
  ThreadProxy() {
    if (XGProxyDMatrixCreate(&handle_) != 0) handle_ = nullptr;
  }
  ~ThreadProxy() {
    if (handle_) XGDMatrixFree(handle_);
  }
  DMatrixHandle get() const { return handle_; }

 private:
  DMatrixHandle handle_ = nullptr;
};

// The logistic function in single precision, as XGBoost applies it.
float Logistic(float margin) { return 1.0f / (1.0f + std::exp(-margin)); }

bool IsBinaryClassifier(const std::string& objective) {
  return objective == "binary:logistic" || objective == "reg:logistic";
}

}  // namespace

std::string XGBoostLastError() {
  const char* err = XGBGetLastError();
  if (!err) return "unknown XGBoost error";
  // Keep the message, drop the native stack trace XGBoost appends.
  std::string message(err);
  if (size_t trace = message.find("\nStack trace:"); trace != std::string::npos) message.resize(trace);
  return message;
}

Result<std::unique_ptr<Backend>> XGBoostBackend::Create(const ModelConfig& config, const Artifact& artifact) {
  BoosterHandle booster = nullptr;
  if (XGBoosterCreate(nullptr, 0, &booster) != 0) {
    return Status::Internal("XGBoosterCreate: " + XGBoostLastError());
  }
  auto fail = [&](Status s) {
    XGBoosterFree(booster);
    return s;
  };
  if (XGBoosterLoadModelFromBuffer(booster, artifact.bytes.data(), artifact.bytes.size()) != 0) {
    return fail(Status::InvalidArgument("cannot load XGBoost model " + artifact.path.string() + ": " +
                                        XGBoostLastError()));
  }
  std::string nthread = "1";
  if (auto it = config.parameters.find("nthread"); it != config.parameters.end()) {
    nthread = it->second;
  }
  if (XGBoosterSetParam(booster, "nthread", nthread.c_str()) != 0) {
    return fail(Status::InvalidArgument("parameters.nthread: " + XGBoostLastError()));
  }
  bst_ulong num_features = 0;
  if (XGBoosterGetNumFeature(booster, &num_features) != 0) {
    return fail(Status::InvalidArgument("cannot read the model's feature count: " +
                                        XGBoostLastError()));
  }
  if (config.is_tabular() && num_features != config.features.size()) {
    return fail(Status::InvalidArgument(
        "model.yaml lists " + std::to_string(config.features.size()) + " features but " +
        artifact.path.filename().string() + " was trained on " + std::to_string(num_features)));
  }
  bst_ulong len = 0;
  const char* json = nullptr;
  if (XGBoosterSaveJsonConfig(booster, &len, &json) != 0) {
    return fail(Status::InvalidArgument("cannot read the model's configuration: " +
                                        XGBoostLastError()));
  }
  std::string objective;
  int64_t groups = 1;
  try {
    auto parsed = nlohmann::json::parse(std::string_view(json, len));
    objective = parsed.at("learner").at("objective").at("name").get<std::string>();
    // Numbers in XGBoost's configuration are strings.
    const std::string num_class = parsed.at("learner").at("learner_model_param").at("num_class").get<std::string>();
    groups = std::max<int64_t>(1, std::stoll(num_class));
  } catch (const std::exception& e) {
    return fail(Status::InvalidArgument(std::string("unexpected model configuration: ") + e.what()));
  }
  if (Status s = CheckTabularOutputs(config, groups, IsBinaryClassifier(objective), objective); !s.ok()) {
    return fail(s);
  }
  return std::unique_ptr<Backend>(new XGBoostBackend(booster, config, objective, groups));
}

XGBoostBackend::XGBoostBackend(void* booster, const ModelConfig& config, std::string objective, int64_t groups)
    : booster_(booster),
      num_features_(static_cast<int64_t>(config.features.size())),
      groups_(groups),
      classes_(config.classes),
      label_threshold_(config.label_threshold),
      objective_(std::move(objective)) {
  for (const FeatureSpec& f : config.features) {
    feature_types_.push_back(f.kind == FeatureKind::kCategorical ? "c" : "q");
  }
}

XGBoostBackend::~XGBoostBackend() { XGBoosterFree(booster_); }

std::string XGBoostBackend::Describe() const {
  int major = 0, minor = 0, patch = 0;
  XGBoostVersion(&major, &minor, &patch);
  return "xgboost " + std::to_string(major) + "." + std::to_string(minor) + "." +
         std::to_string(patch) + ", objective " + objective_;
}

Status XGBoostBackend::PredictMargins(const Tensor& matrix, std::vector<float>* out, bool transformed) const {
  const int64_t rows = matrix.shape()[0];
  char array_interface[160];
  std::snprintf(array_interface, sizeof(array_interface),
                R"({"data": [%llu, true], "shape": [%lld, %lld], "typestr": "<f4", "version": 3})",
                static_cast<unsigned long long>(
                    reinterpret_cast<uintptr_t>(matrix.values<float>().data())),
                static_cast<long long>(rows), static_cast<long long>(num_features_));
  thread_local ThreadProxy proxy;
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* result = nullptr;
  if (XGBoosterPredictFromDense(booster_, array_interface, transformed ? kOutputConfig : kMarginConfig, proxy.get(), &shape,
                                &dim, &result) != 0) {
    return Status::Internal("XGBoost prediction failed: " + XGBoostLastError());
  }
  bst_ulong n = 1;
  for (bst_ulong i = 0; i < dim; ++i) n *= shape[i];
  const int64_t expected = rows * (transformed && objective_ == "multi:softmax" ? 1 : groups_);
  if (static_cast<int64_t>(n) != expected) {
    return Status::Internal("XGBoost returned " + std::to_string(n) + " values for " +
                            std::to_string(rows) + " rows");
  }
  out->assign(result, result + n);
  return Status::Ok();
}

Status XGBoostBackend::Explain(const std::vector<Tensor>& inputs, Tensor* contributions,
                               Tensor* bias) const {
  VIGIL_RETURN_IF_ERROR(CheckTabularMatrix(inputs, num_features_, "XGBoost"));
  const int64_t rows = inputs[0].shape()[0];
  DMatrixHandle dmat = nullptr;
  if (XGDMatrixCreateFromMat(inputs[0].values<float>().data(), rows, num_features_,
                             std::numeric_limits<float>::quiet_NaN(), &dmat) != 0) {
    return Status::Internal("XGDMatrixCreateFromMat: " + XGBoostLastError());
  }
  std::vector<const char*> types;
  for (const std::string& t : feature_types_) types.push_back(t.c_str());
  if (!types.empty() && XGDMatrixSetStrFeatureInfo(dmat, "feature_type", types.data(), types.size()) != 0) {
    XGDMatrixFree(dmat);
    return Status::Internal("XGDMatrixSetStrFeatureInfo: " + XGBoostLastError());
  }
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* out = nullptr;
  const int rc = XGBoosterPredictFromDMatrix(
      booster_, dmat,
      R"({"type": 2, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false})",
      &shape, &dim, &out);
  if (rc != 0) {
    XGDMatrixFree(dmat);
    return Status::Internal("XGBoost contributions failed: " + XGBoostLastError());
  }
  SplitContributions(out, rows, groups_, num_features_, contributions, bias);
  XGDMatrixFree(dmat);
  return Status::Ok();
}

Status XGBoostBackend::Infer(const std::vector<Tensor>& inputs,
                             const std::vector<const OutputSpec*>& requested,
                             std::vector<Tensor>* outputs) const {
  VIGIL_RETURN_IF_ERROR(CheckTabularMatrix(inputs, num_features_, "XGBoost"));
  const int64_t rows = inputs[0].shape()[0];
  std::vector<float> margins, transformed;
  VIGIL_RETURN_IF_ERROR(PredictMargins(inputs[0], &margins, /*transformed=*/false));
  if (NeedsTransformed(requested)) {
    if (groups_ > 1) {
      // Class probabilities, for multi:softmax too (whose own output is the class).
      transformed = margins;
      SoftmaxRows(transformed.data(), rows, groups_);
    } else if (IsBinaryClassifier(objective_)) {
      // One call: the probability is the logistic of the margin.
      transformed.resize(rows);
      for (int64_t i = 0; i < rows; ++i) transformed[i] = Logistic(margins[i]);
    } else {
      VIGIL_RETURN_IF_ERROR(PredictMargins(inputs[0], &transformed, /*transformed=*/true));
    }
  }
  MakeTabularOutputs(rows, groups_, margins.data(), transformed.data(), requested, classes_, label_threshold_,
                     outputs);
  return Status::Ok();
}

}  // namespace vigil
