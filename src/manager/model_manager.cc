#include "manager/model_manager.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "common/memory.h"
#include "manager/dynamic_batcher.h"

namespace vigil {
namespace {

// A coarse, bounded label for why a load failed (the message has the detail).
std::string FailureReasonLabel(const Status& s) {
  switch (s.code()) {
    case StatusCode::kNotFound: return "missing_artifact";
    case StatusCode::kInvalidArgument: return "invalid_artifact";
    case StatusCode::kFailedPrecondition: return "checksum";
    case StatusCode::kUnavailable: return "backend_unavailable";
    default: return "internal";
  }
}

// One row of every declared input: NaN for tabular matrices (all features
// missing, a path every tree model must handle), zeros otherwise.
std::vector<Tensor> MakeWarmupInputs(const ModelConfig& config) {
  std::vector<Tensor> inputs;
  for (const TensorSpec& spec : config.inputs) {
    std::vector<int64_t> shape = spec.shape;
    for (int64_t& d : shape) {
      if (d < 0) d = 1;
    }
    Tensor t(spec.name, spec.type, shape);
    if (config.is_tabular() && spec.type == DataType::kFp32) {
      for (float& v : t.values<float>()) v = std::numeric_limits<float>::quiet_NaN();
    }
    inputs.push_back(std::move(t));
  }
  return inputs;
}

}  // namespace

ModelManager::ModelManager(Options options, const BackendRegistry& backends,
                           ServingMetrics& metrics)
    : options_(std::move(options)),
      repository_(options_.repository),
      backends_(backends),
      metrics_(metrics),
      table_(std::make_shared<const ServingTable>()) {}

ModelManager::~ModelManager() { Stop(); }

Status ModelManager::Start() {
  {
    std::lock_guard lock(reconcile_mu_);
    auto scan = repository_.Scan();
    if (!scan.ok()) return scan.status();
    RefreshRoutes();
    for (const ModelDirectory& dir : *scan) (void)ReconcileModel(dir);
    Publish();
  }
  started_ = true;
  watcher_ = std::thread([this] { WatchLoop(); });
  return Status::Ok();
}

void ModelManager::Stop() {
  {
    std::lock_guard lock(watch_mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  watch_cv_.notify_all();
  if (watcher_.joinable()) watcher_.join();
}

bool ModelManager::Ready() const {
  if (!started_) return false;
  auto table = this->table();
  for (const auto& [name, model] : table->models) {
    if (model.ready.empty()) return false;
  }
  return true;
}

void ModelManager::WatchLoop() {
  using Clock = std::chrono::steady_clock;
  auto next_poll = Clock::now() + std::chrono::milliseconds(options_.poll_interval_ms);
  auto next_alias_poll = Clock::now() + std::chrono::milliseconds(options_.alias_poll_ms);
  std::unique_lock lock(watch_mu_);
  while (!stopping_) {
    watch_cv_.wait_for(lock, std::chrono::milliseconds(options_.drain_check_ms));
    if (stopping_) break;
    lock.unlock();
    ReapDrained();
    // The series of versions unloaded a while ago leave /metrics.
    metrics_.ExpireUnloaded();
    if (options_.mode == ModelControlMode::kPoll && Clock::now() >= next_poll) {
      PollOnce();
      next_poll = Clock::now() + std::chrono::milliseconds(options_.poll_interval_ms);
    } else if (options_.catalog && Clock::now() >= next_alias_poll) {
      (void)ApplyRoutes();
      next_alias_poll = Clock::now() + std::chrono::milliseconds(options_.alias_poll_ms);
    }
    lock.lock();
  }
}

void ModelManager::PollOnce() {
  std::lock_guard lock(reconcile_mu_);
  auto scan = repository_.Scan();
  if (!scan.ok()) {
    spdlog::warn("repository scan failed: {}", scan.status().ToString());
    return;
  }
  RefreshRoutes();
  std::set<std::string> seen;
  for (const ModelDirectory& dir : *scan) {
    seen.insert(dir.name);
    if (unloaded_.count(dir.name)) continue;
    (void)ReconcileModel(dir);
  }
  std::vector<std::string> gone;
  for (const auto& [name, state] : models_) {
    if (!seen.count(name)) gone.push_back(name);
  }
  for (const std::string& name : gone) {
    spdlog::info("model {} left the repository; unloading it", name);
    RemoveModel(name);
  }
  Publish();
}

Status ModelManager::LoadModel(const std::string& name) {
  std::lock_guard lock(reconcile_mu_);
  auto dir = repository_.ScanModel(name);
  if (!dir.ok()) return dir.status();
  unloaded_.erase(name);
  models_[name].failures.clear();  // An explicit request retries failed versions.
  RefreshRoutes();
  Status s = ReconcileModel(*dir);
  Publish();
  if (!s.ok()) return s;
  if (models_[name].serving.empty()) {
    return Status::FailedPrecondition("model '" + name + "' has no version to serve");
  }
  return Status::Ok();
}

Status ModelManager::UnloadModel(const std::string& name) {
  std::lock_guard lock(reconcile_mu_);
  if (!models_.count(name)) return Status::NotFound("model '" + name + "' is not loaded");
  RemoveModel(name);  // Publishes.
  unloaded_.insert(name);
  return Status::Ok();
}

Status ModelManager::ApplyRoutes() {
  if (!options_.catalog) return Status::Ok();
  std::lock_guard lock(reconcile_mu_);
  Status first;
  for (const std::string& name : RefreshRoutes()) {
    auto it = models_.find(name);
    if (it == models_.end() || unloaded_.count(name)) continue;
    // Rescanned: the alias may point at a version registered since the last scan.
    auto dir = repository_.ScanModel(name);
    Status s = ReconcileModel(dir.ok() ? *dir : it->second.dir);
    if (first.ok()) first = s;
  }
  return first;
}

std::set<std::string> ModelManager::RefreshRoutes() {
  std::set<std::string> changed;
  if (!options_.catalog) return changed;
  auto generation = options_.catalog->Generation();
  if (!generation.ok()) {
    spdlog::warn("registry: cannot read its generation, routes unchanged: {}", generation.status().ToString());
    return changed;
  }
  if (*generation == routes_generation_) return changed;
  auto routes = options_.catalog->Routes();
  if (!routes.ok()) {
    spdlog::warn("registry: cannot read the aliases and rollouts, keeping the last ones: {}",
                 routes.status().ToString());
    return changed;
  }
  routes_generation_ = *generation;
  routes_ = std::move(*routes);
  for (auto& [name, st] : models_) {
    auto it = routes_.find(name);
    ModelRouting now = it == routes_.end() ? ModelRouting() : it->second;
    if (now != st.routing) {
      st.routing = std::move(now);
      changed.insert(name);
    }
  }
  return changed;
}

std::vector<int64_t> ModelManager::Wanted(const ModelState& st, const std::vector<int64_t>& available) {
  std::vector<int64_t> wanted = st.config->version_policy.Select(available);
  std::vector<int64_t> routed;
  for (const auto& [alias, version] : st.routing.aliases) routed.push_back(version);
  if (st.routing.split) routed.push_back(st.routing.split->candidate);
  for (int64_t version : routed) {
    if (std::find(available.begin(), available.end(), version) != available.end() &&
        std::find(wanted.begin(), wanted.end(), version) == wanted.end()) {
      wanted.push_back(version);
    }
  }
  std::sort(wanted.begin(), wanted.end());
  return wanted;
}

void ModelManager::RemoveModel(const std::string& name) {
  auto it = models_.find(name);
  if (it == models_.end()) return;
  std::map<int64_t, std::shared_ptr<Servable>> serving = std::move(it->second.serving);
  models_.erase(it);
  Publish();
  for (auto& [v, s] : serving) Retire(std::move(s));
}

Status ModelManager::ReconcileModel(const ModelDirectory& dir) {
  ModelState& st = models_[dir.name];
  st.dir = dir;
  if (auto it = routes_.find(dir.name); it != routes_.end()) {
    st.routing = it->second;
  } else {
    st.routing = ModelRouting();
  }
  if (dir.config_text != st.config_text || (!st.config && st.config_error.empty())) {
    st.config_text = dir.config_text;
    Result<ModelConfig> parsed =
        dir.config_text.empty()
            ? Result<ModelConfig>(Status::InvalidArgument("model.yaml is missing"))
            : ParseModelConfig(dir.config_text, dir.name);
    if (!parsed.ok()) {
      st.config_error = parsed.status().message();
      spdlog::error("model {}: configuration refused, keeping what serves: {}", dir.name,
                    st.config_error);
      metrics_.CountLoad(dir.name, false, "config", 0);
      return parsed.status().WithContext(dir.name + "/model.yaml");
    }
    st.config = std::make_shared<const ModelConfig>(std::move(*parsed));
    st.config_error.clear();
    st.failures.clear();  // A new configuration may fix earlier failures.
  }
  if (!st.config) return Status::InvalidArgument(st.config_error);

  // Forget failures of versions that left the disk.
  std::map<int64_t, const VersionDirectory*> on_disk;
  for (const VersionDirectory& v : dir.versions) on_disk[v.version] = &v;
  std::erase_if(st.failures, [&](const auto& kv) { return !on_disk.count(kv.first); });

  Status first_failure;
  std::map<int64_t, std::shared_ptr<Servable>> loaded_now;
  std::map<int64_t, std::shared_ptr<Servable>> next;
  for (;;) {
    std::vector<int64_t> available;
    for (const VersionDirectory& v : dir.versions) {
      auto f = st.failures.find(v.version);
      if (f == st.failures.end() || f->second.fingerprint != v.fingerprint) {
        available.push_back(v.version);
      }
    }
    next.clear();
    bool failed = false;
    for (int64_t version : Wanted(st, available)) {
      const VersionDirectory& vdir = *on_disk[version];
      auto current = st.serving.find(version);
      if (current != st.serving.end() && current->second->fingerprint() == vdir.fingerprint &&
          current->second->source_config() == st.config) {
        next[version] = current->second;
        continue;
      }
      if (auto l = loaded_now.find(version); l != loaded_now.end()) {
        next[version] = l->second;
        continue;
      }
      auto servable = LoadVersion(st.config, vdir);
      if (!servable.ok()) {
        st.failures[version] = {vdir.fingerprint, servable.status().message()};
        if (first_failure.ok()) first_failure = servable.status();
        failed = true;
        break;  // The policy now picks from the remaining versions.
      }
      loaded_now[version] = *servable;
      next[version] = *servable;
    }
    if (!failed) break;
  }

  // Availability first: if nothing new could be loaded, keep what serves as
  // long as its files are still there.
  if (next.empty() && !first_failure.ok()) {
    for (const auto& [v, s] : st.serving) {
      if (on_disk.count(v)) next[v] = s;
    }
  }
  if (next == st.serving && st.routing == st.published) return first_failure;

  for (auto& [v, s] : next) {
    if (s->state() == VersionState::kWarming) s->Transition(VersionState::kReady);
  }
  std::map<int64_t, std::shared_ptr<Servable>> previous = std::move(st.serving);
  st.serving = next;
  Publish();
  for (auto& [v, s] : previous) {
    auto it = next.find(v);
    if (it == next.end() || it->second != s) {
      spdlog::info("model {} version {} retired; draining", dir.name, v);
      Retire(std::move(s));
    }
  }
  for (const auto& [v, s] : loaded_now) {
    if (next.count(v) && next[v] == s) {
      spdlog::info("model {} version {} is serving ({})", dir.name, v, s->backend().Describe());
    }
  }
  return first_failure;
}

Result<std::shared_ptr<Servable>> ModelManager::LoadVersion(
    const std::shared_ptr<const ModelConfig>& model_config, const VersionDirectory& dir) {
  std::shared_ptr<const ModelConfig> config = model_config;
  const std::string name = config->name;
  const auto start = std::chrono::steady_clock::now();
  spdlog::info("model {} version {}: loading from {}", name, dir.version, dir.path.string());
  Status allowed;
  if (options_.catalog) {
    // The registry's check reads the artifact Create() is about to load.
    auto artifact = backends_.ResolveArtifact(*config, dir.path);
    allowed = artifact.ok() ? options_.catalog->CheckVersion(*config, dir.version, *artifact) : artifact.status();
  }
  auto backend = allowed.ok() ? backends_.Create(*config, dir.path) : Result<std::unique_ptr<Backend>>(allowed);
  if (backend.ok() && config->inputs.empty()) {
    // model.yaml leaves the inputs to the artifact (an ONNX graph): this
    // version serves, and its metadata shows, the inputs its artifact names.
    auto own = std::make_shared<ModelConfig>(*config);
    own->inputs = (*backend)->ArtifactInputs();
    if (own->inputs.empty()) {
      backend = Status::InvalidArgument("model.yaml declares no inputs and the artifact names none");
    } else {
      config = std::move(own);
    }
  }
  if (!backend.ok()) {
    spdlog::error("model {} version {}: load failed, previous version keeps serving: {}", name,
                  dir.version, backend.status().message());
    metrics_.CountLoad(name, false, FailureReasonLabel(backend.status()), 0);
    return backend.status();
  }
  VersionMetrics version_metrics = metrics_.ForVersion(name, std::to_string(dir.version), config->engine.batching.enabled());
  std::unique_ptr<Backend> engine = std::move(*backend);
  if (config->engine.batching.enabled()) {
    engine = std::make_unique<DynamicBatcher>(std::move(engine), *config, version_metrics.queue_latency);
  }
  auto servable = std::make_shared<Servable>(config, dir.version, dir.fingerprint, std::move(engine),
                                             std::move(version_metrics), model_config);
  servable->Transition(VersionState::kWarming);

  std::vector<const OutputSpec*> requested;
  for (const OutputSpec& o : config->outputs) requested.push_back(&o);
  std::vector<Tensor> outputs;
  Status warm = servable->backend().Infer(MakeWarmupInputs(*config), requested, &outputs);
  if (!warm.ok()) {
    servable->Transition(VersionState::kFailed);
    spdlog::error("model {} version {}: warm-up failed, previous version keeps serving: {}", name,
                  dir.version, warm.message());
    metrics_.CountLoad(name, false, "warmup", 0);
    return Status::InvalidArgument("warm-up request failed: " + warm.message());
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics_.CountLoad(name, true, "", seconds);
  return servable;
}

void ModelManager::Publish() {
  auto table = std::make_shared<ServingTable>();
  for (auto& [name, st] : models_) {
    st.published = st.routing;
    ServingModel& m = table->models[name];
    m.config = st.config;
    m.config_error = st.config_error;
    m.aliases = st.routing.aliases;
    m.split = st.routing.split;
    std::map<int64_t, VersionStatus> statuses;
    for (const auto& [v, f] : st.failures) statuses[v] = {v, VersionState::kFailed, f.reason};
    for (const auto& [v, s] : st.serving) {
      m.ready[v] = s;
      statuses[v] = {v, VersionState::kReady, ""};
    }
    for (auto& [v, status] : statuses) m.versions.push_back(std::move(status));
  }
  std::shared_ptr<const ServingTable> old;  // Released after the lock.
  std::lock_guard lock(table_mu_);
  old = std::exchange(table_, std::move(table));
}

void ModelManager::Retire(std::shared_ptr<Servable> servable) {
  servable->Transition(VersionState::kDraining);
  std::lock_guard lock(drain_mu_);
  draining_.push_back(std::move(servable));
}

void ModelManager::ReapDrained() {
  std::vector<std::shared_ptr<Servable>> done;
  {
    std::lock_guard lock(drain_mu_);
    std::vector<std::shared_ptr<Servable>> still;
    for (auto& s : draining_) (s.use_count() == 1 ? done : still).push_back(std::move(s));
    draining_ = std::move(still);
  }
  for (auto& s : done) {
    s->Transition(VersionState::kUnloaded);
    spdlog::info("model {} version {} drained and unloaded", s->model_name(), s->version());
    metrics_.CountUnload(s->model_name());
  }
  if (!done.empty()) {
    done.clear();  // The versions' memory is freed here...
    ReturnFreeMemory();  // ...and handed back to the system.
  }
}

}  // namespace vigil
