#include "lifecycle/reference_data.h"

#include <algorithm>
#include <cmath>

#include "backends/backend.h"
#include "dataset/tabular_dataset.h"
#include "lifecycle/feature_matrix.h"
#include "repository/model_repository.h"

namespace vigil {

Result<ProfileResult> ProfileVersion(const ProfileOptions& options) {
  ModelRepository repository(options.repository);
  auto dir = repository.ScanModel(options.model_name);
  if (!dir.ok()) return dir.status();
  auto found = dir->Version(options.version);
  if (!found.ok()) return found.status();
  const VersionDirectory* source = *found;
  auto config = LoadModelConfig(dir->path / "model.yaml", options.model_name);
  if (!config.ok()) return config.status();
  return ProfileVersionDirectory(*config, source->path, options.data, options.bins);
}

Result<ProfileResult> ProfileVersionDirectory(const ModelConfig& config, const std::filesystem::path& version_dir,
                                              const std::filesystem::path& data_path, int bins) {
  if (!config.is_tabular()) return Status::FailedPrecondition("profiles are for tabular models (declared features)");
  const OutputSpec* score = nullptr;
  for (const OutputSpec& o : config.outputs) {
    if (!score && (o.kind == OutputKind::kProbability || o.kind == OutputKind::kPrediction)) score = &o;
  }
  if (!score) return Status::FailedPrecondition("the model has no probability or prediction output to profile");

  auto data = TabularDataset::ReadCsv(data_path);
  if (!data.ok()) return data.status();
  auto rows = FeatureMatrix(*data, config, "--data");
  if (!rows.ok()) return rows.status();
  const int64_t n = static_cast<int64_t>(data->rows());
  if (n == 0) return Status::InvalidArgument("--data: no rows");

  auto backend = BackendRegistry::WithBuiltins().Create(config, version_dir);
  if (!backend.ok()) return backend.status().WithContext("loading " + version_dir.string());
  const int64_t f = static_cast<int64_t>(config.features.size());
  Tensor input("input", DataType::kFp32, {n, f});
  std::copy(rows->begin(), rows->end(), input.values<float>().begin());
  std::vector<Tensor> outputs;
  VIGIL_RETURN_IF_ERROR((*backend)->Infer({input}, {score}, &outputs));
  // One score per row: the value, or for K classes the largest probability.
  const int64_t per_row = outputs[0].element_count() / n;
  std::vector<float> scores(n);
  for (int64_t r = 0; r < n; ++r) {
    const float* v = outputs[0].values<float>().data() + r * per_row;
    scores[r] = *std::max_element(v, v + per_row);
  }
  ProfileResult result;
  result.profile = BuildReferenceProfile(config, *rows, n, scores, bins);
  result.path = version_dir / kProfileFileName;
  VIGIL_RETURN_IF_ERROR(WriteReferenceProfile(result.profile, result.path));
  return result;
}

}  // namespace vigil
