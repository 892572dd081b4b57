// Servable: one loaded version of a model, as requests see it.
//
// A request holds a shared_ptr<const Servable> for as long as it runs; that
// handle is what lets the manager retire a version only after its in-flight
// requests finish (manager/model_manager.h). The backend is destroyed with the
// last handle.
//
// Thread-safety: immutable apart from the state, which is atomic and only
// moved by the manager along the legal transitions.
#ifndef VIGIL_MANAGER_SERVABLE_H_
#define VIGIL_MANAGER_SERVABLE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "backends/backend.h"
#include "manager/version_state.h"
#include "monitor/serving_metrics.h"
#include "repository/model_config.h"

namespace vigil {

class Servable {
 public:
  // `source`: the model.yaml config the version was loaded from, when
  // `config` is the version's own completion of it (inputs an ONNX graph
  // names); null means `config` itself.
  Servable(std::shared_ptr<const ModelConfig> config, int64_t version, std::string fingerprint,
           std::unique_ptr<Backend> backend, VersionMetrics metrics,
           std::shared_ptr<const ModelConfig> source = nullptr)
      : source_config_(source ? std::move(source) : config),
        config_(std::move(config)),
        version_(version),
        version_label_(std::to_string(version)),
        fingerprint_(std::move(fingerprint)),
        backend_(std::move(backend)),
        metrics_(metrics) {}

  const ModelConfig& config() const { return *config_; }
  const std::shared_ptr<const ModelConfig>& shared_config() const { return config_; }
  // The model's config this version was loaded from: the same config object
  // means model.yaml did not change since.
  const std::shared_ptr<const ModelConfig>& source_config() const { return source_config_; }
  const std::string& model_name() const { return config_->name; }
  int64_t version() const { return version_; }
  const std::string& version_label() const { return version_label_; }
  const std::string& fingerprint() const { return fingerprint_; }
  const Backend& backend() const { return *backend_; }
  const VersionMetrics& metrics() const { return metrics_; }

  VersionState state() const { return state_.load(std::memory_order_acquire); }
  // Moves to `to`; returns false (and does nothing) for an illegal transition.
  bool Transition(VersionState to) {
    VersionState from = state();
    if (!IsLegalTransition(from, to)) return false;
    return state_.compare_exchange_strong(from, to, std::memory_order_acq_rel);
  }

 private:
  std::shared_ptr<const ModelConfig> source_config_;
  std::shared_ptr<const ModelConfig> config_;
  int64_t version_;
  std::string version_label_;
  std::string fingerprint_;
  std::unique_ptr<Backend> backend_;
  VersionMetrics metrics_;
  std::atomic<VersionState> state_{VersionState::kLoading};
};

}  // namespace vigil

#endif  // VIGIL_MANAGER_SERVABLE_H_
