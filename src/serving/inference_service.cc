#include "serving/inference_service.h"

#include <xxhash.h>

#include <chrono>
#include <cmath>

#include "serving/tabular_input.h"

namespace vigil {
namespace {

// Why `model` has no ready version, for a 503 message.
std::string NotReadyReason(const ServingModel& model) {
  if (!model.config_error.empty()) return "model.yaml was refused: " + model.config_error;
  for (auto it = model.versions.rbegin(); it != model.versions.rend(); ++it) {
    if (it->state == VersionState::kFailed) {
      return "version " + std::to_string(it->version) + " failed to load: " + it->reason;
    }
  }
  return "no version is loaded";
}

}  // namespace

bool InShare(std::string_view id, double share) {
  if (share >= 1) return true;
  if (!(share > 0)) return false;
  // 2^64 * share, below which the hash must fall.
  const auto bound = static_cast<uint64_t>(std::ldexp(share, 64));
  return XXH3_64bits(id.data(), id.size()) < bound;
}

Routed Resolution::Route(std::string_view id) const {
  Routed r{servable, nullptr, "champion"};
  if (!split || !candidate || candidate == servable || !InShare(id, split->share)) return r;
  if (split->shadow) {
    r.shadow = candidate;
  } else {
    r.servable = candidate;
    r.route = "canary";
  }
  return r;
}

Result<std::shared_ptr<const Servable>> InferenceService::Resolve(
    const std::string& model, const std::optional<std::string>& version) const {
  auto resolved = ResolveRequest(model, version);
  if (!resolved.ok()) return resolved.status();
  return std::move(resolved->servable);
}

Result<Resolution> InferenceService::ResolveRequest(const std::string& model,
                                                    const std::optional<std::string>& version) const {
  auto table = manager_.table();
  auto it = table->models.find(model);
  if (it == table->models.end()) {
    return Status::NotFound("model '" + model + "' is not in the repository");
  }
  const ServingModel& m = it->second;
  if (!version) {
    Resolution r;
    r.servable = m.Default();
    if (!r.servable) {
      return Status::Unavailable("model '" + model + "' is not ready: " + NotReadyReason(m));
    }
    if (m.split) {
      r.split = m.split;
      if (auto c = m.ready.find(m.split->candidate); c != m.ready.end()) r.candidate = c->second;
    }
    return r;
  }
  // A version number, or an alias of the registry (".../versions/champion/infer").
  auto number = ModelRepository::ParseVersion(*version);
  if (!number) {
    auto alias = m.aliases.find(*version);
    if (alias == m.aliases.end()) {
      return Status::NotFound("model '" + model + "' has no version or alias '" + *version + "'");
    }
    number = alias->second;
  }
  if (auto r = m.ready.find(*number); r != m.ready.end()) return Resolution{r->second, std::nullopt, nullptr};
  for (const VersionStatus& s : m.versions) {
    if (s.version == *number) {
      return Status::Unavailable("model '" + model + "' version " + *version + " is " +
                                 std::string(VersionStateName(s.state)) +
                                 (s.reason.empty() ? "" : ": " + s.reason));
    }
  }
  return Status::NotFound("model '" + model + "' has no version " + *version + " serving");
}

Result<InferenceResponse> InferenceService::Explain(const Servable& servable,
                                                    const InferenceRequest& request) const {
  const ModelConfig& config = servable.config();
  if (!config.is_tabular()) {
    return Status::FailedPrecondition("explanations need a tabular model with declared features");
  }
  auto matrix = AssembleTabularInput(config, request.inputs);
  if (!matrix.ok()) return matrix.status();
  std::vector<Tensor> inputs;
  inputs.push_back(std::move(*matrix));
  InferenceResponse response;
  Tensor contributions, bias;
  VIGIL_RETURN_IF_ERROR(servable.backend().Explain(inputs, &contributions, &bias));
  // One margin per bias value: per row, or per row and class.
  const int64_t n = bias.element_count();
  const int64_t f = static_cast<int64_t>(config.features.size());
  Tensor margin("margin", DataType::kFp32, bias.shape());
  for (int64_t i = 0; i < n; ++i) {
    float sum = bias.values<float>()[i];
    for (int64_t j = 0; j < f; ++j) sum += contributions.values<float>()[i * f + j];
    margin.values<float>()[i] = sum;
  }
  response.outputs.push_back(std::move(contributions));
  response.outputs.push_back(std::move(bias));
  response.outputs.push_back(std::move(margin));
  for (const FeatureSpec& f : config.features) response.feature_names.push_back(f.name);
  response.model_name = servable.model_name();
  response.model_version = servable.version_label();
  response.id = request.id;
  return response;
}

Result<InferenceResponse> InferenceService::Infer(const Servable& servable,
                                                  const InferenceRequest& request) const {
  const ModelConfig& config = servable.config();
  std::vector<const OutputSpec*> requested;
  if (request.requested_outputs.empty()) {
    for (const OutputSpec& o : config.outputs) requested.push_back(&o);
  } else {
    for (size_t i = 0; i < request.requested_outputs.size(); ++i) {
      const std::string& name = request.requested_outputs[i];
      const OutputSpec* found = nullptr;
      for (const OutputSpec& o : config.outputs) {
        if (o.name == name) found = &o;
      }
      if (!found) {
        std::string known;
        for (const OutputSpec& o : config.outputs) known += (known.empty() ? "" : ", ") + o.name;
        return Status::InvalidArgument("outputs[" + std::to_string(i) + "].name: unknown output '" +
                                       name + "' (the model has " + known + ")");
      }
      requested.push_back(found);
    }
  }

  std::vector<Tensor> backend_inputs;
  std::vector<int64_t> unseen;
  const std::vector<Tensor>* inputs = &request.inputs;
  if (config.is_tabular()) {
    auto matrix = AssembleTabularInput(config, request.inputs, &unseen);
    if (!matrix.ok()) return matrix.status();
    backend_inputs.push_back(std::move(*matrix));
    inputs = &backend_inputs;
  }
  const int64_t rows = inputs->empty() || (*inputs)[0].shape().empty() ? 0 : (*inputs)[0].shape()[0];

  InferenceResponse response;
  const auto start = std::chrono::steady_clock::now();
  Status s = servable.backend().Infer(*inputs, requested, &response.outputs);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!s.ok()) return s;
  servable.metrics().compute_latency->Observe(seconds);
  servable.metrics().batch_size->Observe(static_cast<double>(rows));
  response.model_name = servable.model_name();
  response.model_version = servable.version_label();
  response.id = request.id;
  if (config.is_tabular()) {
    response.features = std::move(backend_inputs[0]);
    response.unseen_categories = std::move(unseen);
  }
  return response;
}

}  // namespace vigil
