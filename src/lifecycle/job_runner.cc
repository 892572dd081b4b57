#include "lifecycle/job_runner.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <cmath>
#include <numeric>
#include <random>
#include <nlohmann/json.hpp>

#include "common/rfc3339.h"
#include "lifecycle/evaluator.h"
#include "lifecycle/production_data.h"
#include "lifecycle/xgboost_trainer.h"
#include "repository/model_repository.h"

namespace vigil {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

json Number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

// JSON text of what the job records; bytes that are not UTF-8 (a path in
// model.yaml, say) are replaced rather than thrown on.
std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

Result<TrainingJobSpec> ParseTrainingJobSpec(const std::string& model, const std::string& text, int64_t now_ms) {
  const json doc = text.empty() ? json::object() : json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Status::InvalidArgument("request body: expected a JSON object such as {\"source\": \"production\", "
                                   "\"hours\": 168}");
  }
  TrainingJobSpec spec;
  spec.model = model;
  spec.actor = "api";
  bool has_hours = false, has_range = false;
  double hours = 24 * 7;
  auto string_of = [&](const std::string& key, std::string* out) -> Status {
    if (!doc[key].is_string()) return Status::InvalidArgument(key + ": expected a string");
    *out = doc[key].get<std::string>();
    return Status::Ok();
  };
  for (const auto& [key, value] : doc.items()) {
    if (key == "source") {
      VIGIL_RETURN_IF_ERROR(string_of(key, &spec.source));
      if (spec.source != "csv" && spec.source != "production") {
        return Status::InvalidArgument("source: expected csv or production, got '" + spec.source + "'");
      }
    } else if (key == "data") {
      std::string path;
      VIGIL_RETURN_IF_ERROR(string_of(key, &path));
      spec.data = path;
    } else if (key == "hours") {
      if (!value.is_number() || value.get<double>() <= 0) return Status::InvalidArgument("hours: expected a positive number");
      hours = value.get<double>();
      has_hours = true;
    } else if (key == "from" || key == "to") {
      std::string t;
      VIGIL_RETURN_IF_ERROR(string_of(key, &t));
      if (!ParseRfc3339(t, key == "from" ? &spec.from_ms : &spec.to_ms)) {
        return Status::InvalidArgument(key + ": expected an RFC 3339 time such as 2026-11-28T12:00:00Z");
      }
      has_range = true;
    } else if (key == "original_share") {
      if (!value.is_number() || value.get<double>() < 0 || value.get<double>() >= 1) {
        return Status::InvalidArgument("original_share: expected a number in [0, 1)");
      }
      spec.original_share = value.get<double>();
    } else if (key == "target") {
      VIGIL_RETURN_IF_ERROR(string_of(key, &spec.target));
    } else if (key == "parameters") {
      if (!value.is_object()) return Status::InvalidArgument("parameters: expected an object");
      for (const auto& [name, v] : value.items()) {
        const std::string where = "parameters." + name;
        if (name == "rounds" || name == "max_depth" || name == "early_stopping_rounds" || name == "seed") {
          if (!v.is_number_integer() || v.get<int64_t>() < (name == "seed" ? 0 : 1) ||
              (name != "seed" && v.get<int64_t>() > 100000)) {
            return Status::InvalidArgument(where + ": expected a positive integer");
          }
          auto& field = name == "rounds"      ? spec.rounds
                        : name == "max_depth" ? spec.max_depth
                        : name == "seed"      ? spec.seed
                                              : spec.early_stopping_rounds;
          field = v.get<int64_t>();
        } else if (name == "learning_rate" || name == "subsample" || name == "colsample_bytree") {
          if (!v.is_number() || v.get<double>() <= 0 || v.get<double>() > 1) {
            return Status::InvalidArgument(where + ": expected a number in (0, 1]");
          }
          auto& field = name == "learning_rate" ? spec.learning_rate
                        : name == "subsample"   ? spec.subsample
                                                : spec.colsample_bytree;
          field = v.get<double>();
        } else {
          return Status::InvalidArgument(where + ": unknown parameter (expected rounds, max_depth, learning_rate, "
                                                 "subsample, colsample_bytree, early_stopping_rounds, seed)");
        }
      }
    } else if (key == "alias") {
      const json list = value.is_array() ? value : json::array({value});
      for (const json& a : list) {
        if (!a.is_string()) return Status::InvalidArgument("alias: expected a name or a list of names");
        VIGIL_RETURN_IF_ERROR(Registry::CheckAliasName(a.get<std::string>()));
        if (a.get<std::string>() == "champion") {
          return Status::InvalidArgument("alias: a training job does not move the champion (a rollout or `vigil "
                                         "alias` does, after the gate); use challenger or another name");
        }
        spec.aliases.push_back(a.get<std::string>());
      }
    } else if (key == "rollout") {
      if (!value.is_boolean()) return Status::InvalidArgument("rollout: expected true or false");
      spec.rollout = value.get<bool>();
    } else if (key == "by") {
      VIGIL_RETURN_IF_ERROR(string_of(key, &spec.actor));
    } else if (key == "reason") {
      VIGIL_RETURN_IF_ERROR(string_of(key, &spec.reason));
    } else {
      return Status::InvalidArgument(key + ": unknown key (expected source, data, hours, from, to, original_share, "
                                           "target, parameters, alias, rollout, by, reason)");
    }
  }
  if (spec.source == "csv" && spec.data.empty()) return Status::InvalidArgument("data: a CSV file is required");
  if (spec.source == "csv" && (has_hours || has_range || spec.original_share > 0)) {
    return Status::InvalidArgument("hours, from, to and original_share are for source production");
  }
  if (spec.source == "production") {
    if (has_hours && has_range) return Status::InvalidArgument("give hours or from/to, not both");
    if (!has_range) {
      spec.to_ms = now_ms + 1;
      spec.from_ms = spec.to_ms - static_cast<int64_t>(hours * 3600 * 1000);
    } else if (spec.to_ms == 0) {
      spec.to_ms = now_ms + 1;
    }
    if (spec.from_ms >= spec.to_ms) return Status::InvalidArgument("from: must be before to");
    if (spec.original_share > 0 && spec.data.empty()) {
      return Status::InvalidArgument("original_share: needs data, the original training data");
    }
  }
  if (spec.actor.empty()) spec.actor = "api";
  return spec;
}

std::string TrainingJobSpecJson(const TrainingJobSpec& spec) {
  json parameters = json::object();
  if (spec.rounds) parameters["rounds"] = *spec.rounds;
  if (spec.max_depth) parameters["max_depth"] = *spec.max_depth;
  if (spec.early_stopping_rounds) parameters["early_stopping_rounds"] = *spec.early_stopping_rounds;
  if (spec.seed) parameters["seed"] = *spec.seed;
  if (spec.learning_rate) parameters["learning_rate"] = *spec.learning_rate;
  if (spec.subsample) parameters["subsample"] = *spec.subsample;
  if (spec.colsample_bytree) parameters["colsample_bytree"] = *spec.colsample_bytree;
  json out = {{"source", spec.source}, {"target", spec.target}, {"parameters", parameters},
              {"alias", spec.aliases}, {"rollout", spec.rollout}, {"by", spec.actor}, {"reason", spec.reason}};
  if (!spec.data.empty()) out["data"] = spec.data.string();
  if (spec.source == "production") {
    out["from"] = FormatRfc3339(spec.from_ms);
    out["to"] = FormatRfc3339(spec.to_ms);
    out["original_share"] = spec.original_share;
  }
  return Dump(out);
}

JobRunner::JobRunner(Store& store, Registry& registry, Options options)
    : store_(store), registry_(registry), options_(std::move(options)) {
  if (!options_.now_ms) options_.now_ms = SystemClock();
  if (options_.work_dir.empty()) options_.work_dir = options_.repository / ".jobs";
}

JobRunner::~JobRunner() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (auto& [id, job] : live_) job->cancel = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

Status JobRunner::Start() {
  // Files of jobs a previous process left behind (copies of production data).
  std::error_code ignored;
  fs::remove_all(options_.work_dir, ignored);
  auto jobs = store_.Jobs("", 1000);
  if (!jobs.ok()) return jobs.status();
  for (JobRecord& j : *jobs) {
    if (j.state != "queued" && j.state != "running") continue;
    j.state = "failed";
    j.error = "interrupted: the server stopped while the job was " + std::string(j.started_ms ? "running" : "queued");
    j.finished_ms = options_.now_ms();
    VIGIL_RETURN_IF_ERROR(store_.UpdateJob(j));
  }
  worker_ = std::thread([this] { Work(); });
  return Status::Ok();
}

void JobRunner::SetFinishedHook(std::function<void(const JobRecord&)> hook) {
  std::lock_guard lock(mu_);
  finished_hook_ = std::move(hook);
}

void JobRunner::SetBeforeProductionDataHook(std::function<void()> hook) {
  std::lock_guard lock(mu_);
  before_production_data_hook_ = std::move(hook);
}

Result<JobRecord> JobRunner::SubmitTraining(TrainingJobSpec spec) {
  auto dir = ModelRepository(options_.repository).ScanModel(spec.model);
  if (!dir.ok() || dir->config_text.empty()) {
    return Status::NotFound("model '" + spec.model + "' is not in the repository (a directory with a model.yaml)");
  }
  std::error_code ec;
  if (spec.source == "csv" && !fs::is_regular_file(spec.data, ec)) {
    return Status::InvalidArgument("data: " + spec.data.string() + " is not a file on the server");
  }
  auto job = std::make_shared<Live>();
  job->spec = std::move(spec);
  JobRecord& r = job->record;
  r.model = job->spec.model;
  r.kind = "train";
  r.state = "queued";
  r.spec = TrainingJobSpecJson(job->spec);
  r.actor = job->spec.actor;
  r.created_ms = options_.now_ms();
  std::lock_guard lock(mu_);
  for (const auto& [id, other] : live_) {
    if (other->record.model == r.model) {
      return Status::FailedPrecondition("model '" + r.model + "' has job " + std::to_string(id) + " " +
                                        other->record.state + "; cancel it or wait for it");
    }
  }
  auto id = store_.AddJob(r);
  if (!id.ok()) return id.status();
  r.id = *id;
  live_[r.id] = job;
  queue_.push_back(r.id);
  cv_.notify_all();
  spdlog::info("job {}: training model {} from {} queued by {}", r.id, r.model, job->spec.source, r.actor);
  return r;
}

Result<JobRecord> JobRunner::Get(int64_t id) {
  {
    std::lock_guard lock(mu_);
    if (auto it = live_.find(id); it != live_.end()) {
      JobRecord r = it->second->record;
      r.progress = it->second->progress;
      return r;
    }
  }
  auto stored = store_.GetJob(id);
  if (!stored.ok()) return stored.status();
  if (!*stored) return Status::NotFound("no job " + std::to_string(id));
  return std::move(**stored);
}

Result<std::vector<JobRecord>> JobRunner::List(const std::string& model, int64_t limit) {
  auto jobs = store_.Jobs(model, limit);
  if (!jobs.ok()) return jobs.status();
  std::lock_guard lock(mu_);
  for (JobRecord& r : *jobs) {
    if (auto it = live_.find(r.id); it != live_.end()) {
      r = it->second->record;
      r.progress = it->second->progress;
    }
  }
  return jobs;
}

Result<JobRecord> JobRunner::Cancel(int64_t id) {
  std::shared_ptr<Live> job;
  {
    std::unique_lock lock(mu_);
    auto it = live_.find(id);
    if (it == live_.end()) {
      lock.unlock();
      auto stored = Get(id);  // Not live: ended or unknown.
      if (!stored.ok()) return stored.status();
      return Status::FailedPrecondition("job " + std::to_string(id) + " has ended (" + stored->state + ")");
    }
    job = it->second;
    const std::string stage = json::parse(job->progress, nullptr, false).value("stage", "");
    if (stage == "registering" || stage == "evaluating") {
      return Status::FailedPrecondition("job " + std::to_string(id) + " is " + stage +
                                        " its version and can no longer be cancelled");
    }
    job->cancel = true;
    if (job->record.state == "queued") {
      std::erase(queue_, id);
      live_.erase(it);
    } else {
      return job->record;  // The worker records the cancellation at the next round.
    }
  }
  Finish(*job, "cancelled", "{}", "cancelled before it started");
  return job->record;
}

void JobRunner::SetProgress(Live& job, const json& progress) {
  const std::string text = Dump(progress);
  std::lock_guard lock(mu_);
  job.progress = text;
}

void JobRunner::Work() {
  pthread_setname_np(pthread_self(), "vigil-jobs");
  // Below the request threads: a training job takes what serving leaves.
  setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10);
  for (;;) {
    std::shared_ptr<Live> job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = live_.at(queue_.front());
      queue_.pop_front();
      job->record.state = "running";
      job->record.started_ms = options_.now_ms();
    }
    if (Status s = store_.UpdateJob(job->record); !s.ok()) spdlog::warn("job {}: {}", job->record.id, s.ToString());
    spdlog::info("job {}: training model {} started", job->record.id, job->record.model);
    Result<std::string> result = Status::Internal("not run");
    try {
      result = Run(*job);
    } catch (const std::exception& e) {  // A job must not take the server down.
      result = Status::Internal(std::string("the job failed: ") + e.what());
    }
    if (result.ok()) {
      Finish(*job, "succeeded", *result, "");
    } else if (result.status().code() == StatusCode::kCancelled) {
      Finish(*job, "cancelled", "{}", result.status().message());
    } else {
      Finish(*job, "failed", "{}", result.status().message());
    }
  }
}

Result<std::string> JobRunner::Run(Live& job) {
  const TrainingJobSpec& spec = job.spec;
  const fs::path work = options_.work_dir / std::to_string(job.record.id);
  struct Cleanup {
    fs::path path;
    ~Cleanup() {
      std::error_code ignored;
      fs::remove_all(path, ignored);
    }
  } cleanup{work};
  std::error_code ec;
  fs::create_directories(work / "repo" / spec.model, ec);
  if (ec) return Status::Internal("cannot create " + work.string() + ": " + ec.message());
  const fs::path config_path = options_.repository / spec.model / "model.yaml";
  auto config = LoadModelConfig(config_path, spec.model);
  if (!config.ok()) return config.status();
  fs::copy_file(config_path, work / "repo" / spec.model / "model.yaml", ec);
  if (ec) return Status::Internal("copying " + config_path.string() + ": " + ec.message());

  // The data.
  json data_report = {{"source", spec.source}};
  fs::path data = spec.data;
  if (spec.source == "production") {
    SetProgress(job, json{{"stage", "data"}});
    ProductionDataOptions p;
    p.from_ms = spec.from_ms;
    p.to_ms = spec.to_ms;
    p.target = spec.target;
    p.original = spec.data;
    p.original_share = spec.original_share;
    p.seed = spec.seed.value_or(42);
    data = work / "data.csv";
    std::function<void()> before;
    {
      std::lock_guard lock(mu_);
      before = before_production_data_hook_;
    }
    if (before) before();
    auto written = WriteProductionData(store_, *config, p, data);
    if (!written.ok()) return written.status();
    data_report["production_rows"] = written->production_rows;
    data_report["original_rows"] = written->original_rows;
    data_report["skipped_labels"] = written->skipped_labels;
  }
  if (job.cancel) return Status::Cancelled("cancelled before training");
  // A holdout of the new data, for the gate: the challenger and the champion
  // are scored on rows neither was trained on.
  const fs::path train_part = work / "train.csv", holdout = work / "holdout.csv";
  auto held = SplitCsvRows(data, config->gate.holdout_fraction, spec.seed.value_or(42) + 1, train_part, holdout);
  if (!held.ok()) return held.status();
  data_report["holdout_rows"] = *held;

  // Parameters: the job's, else the champion's, else the defaults.
  int64_t champion = 0;
  json base = json::object();
  if (auto aliases = registry_.AliasesOf(spec.model); aliases.ok() && aliases->count("champion")) {
    champion = aliases->at("champion");
    if (auto record = registry_.Version(spec.model, champion); record.ok()) {
      base = json::parse(record->parameters, nullptr, false);
      if (!base.is_object()) base = json::object();
    }
  }
  TrainOptions t;
  t.data = train_part;
  t.target = spec.target;
  t.repository = work / "repo";
  t.model_name = spec.model;
  auto pick_int = [&](const std::optional<int64_t>& given, const char* key, int64_t fallback) {
    return given ? *given : base.contains(key) && base[key].is_number_integer() ? base[key].get<int64_t>() : fallback;
  };
  auto pick_double = [&](const std::optional<double>& given, const char* key, double fallback) {
    return given ? *given : base.contains(key) && base[key].is_number() ? base[key].get<double>() : fallback;
  };
  t.rounds = static_cast<int>(pick_int(spec.rounds, "rounds", t.rounds));
  t.max_depth = static_cast<int>(pick_int(spec.max_depth, "max_depth", t.max_depth));
  t.early_stopping_rounds =
      static_cast<int>(pick_int(spec.early_stopping_rounds, "early_stopping_rounds", t.early_stopping_rounds));
  t.seed = static_cast<uint64_t>(pick_int(spec.seed, "seed", static_cast<int64_t>(t.seed)));
  t.learning_rate = pick_double(spec.learning_rate, "learning_rate", t.learning_rate);
  t.subsample = pick_double(spec.subsample, "subsample", t.subsample);
  t.colsample_bytree = pick_double(spec.colsample_bytree, "colsample_bytree", t.colsample_bytree);
  t.nthread = 1;
  t.reg_lambda = pick_double(std::nullopt, "reg_lambda", t.reg_lambda);
  t.reg_alpha = pick_double(std::nullopt, "reg_alpha", t.reg_alpha);
  // One training run; `where` (trial and rung) goes into the progress.
  auto train = [&](TrainOptions o, const fs::path& repo, const json& where) -> Result<TrainReport> {
    fs::create_directories(repo / spec.model, ec);
    fs::copy_file(config_path, repo / spec.model / "model.yaml", fs::copy_options::overwrite_existing, ec);
    if (ec) return Status::Internal("preparing " + repo.string() + ": " + ec.message());
    o.repository = repo;
    o.on_iteration = [&](int round, int rounds, double auc, double best) {
      json progress = {{"stage", where.empty() ? "training" : "search"},
                       {"round", round + 1},
                       {"rounds", rounds},
                       {"validation_auc", Number(auc)},
                       {"best_validation_auc", Number(best)}};
      progress.update(where);
      SetProgress(job, progress);
      return !job.cancel.load();
    };
    return TrainXGBoostClassifier(o, [&](const std::string& line) { spdlog::debug("job {}: {}", job.record.id, line); });
  };
  // A search when model.yaml declares a space and the job fixes no
  // parameter; otherwise one run.
  const SearchSpace& space = config->training.search;
  const bool fixed = spec.rounds || spec.max_depth || spec.early_stopping_rounds || spec.seed || spec.learning_rate ||
                     spec.subsample || spec.colsample_bytree;
  json search = nullptr;
  Result<TrainReport> report = Status::Internal("not trained");
  // What every version a job registers records; the trainer fills in the rest.
  RegisterOptions r;
  r.model = spec.model;
  r.author = spec.actor;
  r.parent_version = champion;
  r.training_data = train_part;
  const std::string job_name = "training job " + std::to_string(job.record.id) + " (" + spec.source;
  const std::string why = spec.reason.empty() ? "" : ": " + spec.reason;
  if (config->training.external.declared()) {
    // Another framework's trainer: its artifact goes through the same
    // registration (which profiles it from the training data) and gate.
    auto artifact = RunExternal(job, config->training.external, train_part, work);
    if (!artifact.ok()) return artifact.status();
    r.artifact_file = *artifact;
    r.origin = "external";
    r.description = job_name + ", external trainer)" + why;
    r.parameters = Dump({{"command", config->training.external.command}});
    return RegisterAndEvaluate(job, r, champion, holdout, data_report, json::object());
  }
  if (space.declared() && !fixed) {
    auto searched = Search(job, space, t, train, &search);
    if (!searched.ok()) return searched.status();
    t = searched->first;
    report = std::move(searched->second);
  } else {
    report = train(t, work / "repo", json::object());
  }
  if (!report.ok()) return report.status();
  r.artifact_file = report->artifact;
  r.origin = "trained";
  r.description = job_name + ")" + why;
  r.profile_file = report->artifact.parent_path() / "profile.json";
  json parameters = TrainedParameters(t, *report);
  if (!search.is_null()) parameters["search"] = search;
  r.parameters = Dump(parameters);
  const json metrics = TrainedMetrics(*report);
  r.metrics = Dump(metrics);
  return RegisterAndEvaluate(job, r, champion, holdout, data_report, metrics);
}

Result<std::string> JobRunner::RegisterAndEvaluate(Live& job, const RegisterOptions& r, int64_t champion,
                                                   const fs::path& holdout, const json& data_report,
                                                   const json& metrics) {
  const TrainingJobSpec& spec = job.spec;
  // From here the job finishes: Cancel() refuses once the stage is registering.
  {
    std::lock_guard lock(mu_);
    if (job.cancel) return Status::Cancelled("cancelled after training, before registering");
    job.progress = Dump({{"stage", "registering"}});
  }
  auto record = registry_.Register(r);
  if (!record.ok()) return record.status().WithContext("registering the trained version");
  for (const std::string& alias : spec.aliases) {
    auto moved = registry_.SetAlias(spec.model, alias, record->version, spec.actor,
                                    "training job " + std::to_string(job.record.id));
    if (!moved.ok()) return moved.status().WithContext("version " + std::to_string(record->version) + " registered");
  }

  // The gate: the new version against the champion on the holdout (and the
  // model's golden set).
  SetProgress(job, json{{"stage", "evaluating"}});
  EvaluateOptions e;
  e.repository = options_.repository;
  e.model = spec.model;
  e.challenger = record->version;
  e.champion = champion;
  e.sets = {{"holdout", holdout}};
  e.target = spec.target;
  e.actor = spec.actor;
  auto evaluation = EvaluateVersion(registry_, store_, e);
  if (!evaluation.ok()) return evaluation.status().WithContext("version " + std::to_string(record->version) +
                                                               " registered; evaluating it");
  return Dump({{"version", record->version},
               {"sha256", record->sha256},
               {"origin", record->origin},
               {"parent_version", champion > 0 ? json(champion) : json(nullptr)},
               {"metrics", metrics},
               {"data", data_report},
               {"evaluation", json::parse(evaluation->ToJson())},
               {"aliases", spec.aliases}});
}

Result<fs::path> JobRunner::RunExternal(Live& job, const ExternalTrainer& trainer, const fs::path& data,
                                        const fs::path& work) {
  const fs::path output = work / "output";
  std::error_code ec;
  fs::create_directories(output, ec);
  if (ec) return Status::Internal("cannot create " + output.string() + ": " + ec.message());
  std::vector<std::string> args;
  for (std::string arg : trainer.command) {
    for (const auto& [key, value] : {std::pair<std::string, std::string>{"{data}", fs::absolute(data).string()},
                                     {"{output}", fs::absolute(output).string()},
                                     {"{model}", job.spec.model}}) {
      for (size_t at = arg.find(key); at != std::string::npos; at = arg.find(key, at + value.size())) {
        arg.replace(at, key.size(), value);
      }
    }
    args.push_back(std::move(arg));
  }
  const fs::path log = work / "trainer.log";
  SetProgress(job, json{{"stage", "external"}, {"command", args}});
  // Everything the child needs is prepared before fork(): between fork and
  // exec a child of a threaded process only makes system calls.
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log_path = log.string();
  const std::string cwd = (options_.repository / job.spec.model).string();
  static constexpr char kExecFailed[] = "the external trainer's command could not be run (execvp failed)\n";
  const pid_t pid = ::fork();
  if (pid < 0) return Status::Internal(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // The child: its own process group (so cancelling stops all of it), the
    // model's directory as working directory, output to the log.
    ::setpgid(0, 0);
    const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    // Nothing else of the server's (its listening socket, connections,
    // the store's files) goes to the trainer.
    ::close_range(3, ~0U, 0);
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::execvp(argv[0], argv.data());
    [[maybe_unused]] const ssize_t ignored = ::write(2, kExecFailed, sizeof(kExecFailed) - 1);
    ::_exit(127);
  }
  ::setpgid(pid, pid);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(trainer.timeout_seconds);
  std::string stopped;  // Why Vigil stopped it, if it did.
  std::chrono::steady_clock::time_point kill_at = std::chrono::steady_clock::time_point::max();
  for (;;) {
    // WNOWAIT: the exited leader stays unreaped, so its process group id
    // cannot be reused while the group's leftovers are killed below.
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0 && errno != EINTR) {
      return Status::Internal(std::string("waitid: ") + std::strerror(errno));
    }
    if (info.si_pid == pid) break;
    const auto now = std::chrono::steady_clock::now();
    if (stopped.empty() && (job.cancel || now > deadline)) {
      stopped = job.cancel ? "cancelled" : "timed out after " + std::to_string(trainer.timeout_seconds) + " s";
      ::kill(-pid, SIGTERM);
      kill_at = now + std::chrono::seconds(5);  // A trainer that ignores SIGTERM gets SIGKILL.
    }
    if (now > kill_at) {
      ::kill(-pid, SIGKILL);
      kill_at = std::chrono::steady_clock::time_point::max();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(-pid, SIGKILL);  // Whatever the trainer left running in its group.
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  // The end of the trainer's output, for the error message.
  std::string tail;
  {
    std::ifstream in(log, std::ios::binary);
    const std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    tail = all.size() > 2000 ? all.substr(all.size() - 2000) : all;
    while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' ')) tail.pop_back();
  }
  if (stopped == "cancelled") return Status::Cancelled("external trainer cancelled");
  if (!stopped.empty()) return Status::FailedPrecondition("external trainer " + stopped + ": " + tail);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status::FailedPrecondition(
        "external trainer " +
        (WIFEXITED(status) ? "exited with status " + std::to_string(WEXITSTATUS(status))
                           : "was killed by signal " + std::to_string(WTERMSIG(status))) +
        (tail.empty() ? std::string() : ": " + tail));
  }
  const fs::path artifact = output / trainer.artifact;
  if (!fs::is_regular_file(artifact, ec)) {
    return Status::FailedPrecondition("external trainer succeeded but wrote no " + trainer.artifact + " into " +
                                      output.string());
  }
  return artifact;
}

Result<std::pair<TrainOptions, TrainReport>> JobRunner::Search(
    Live& job, const SearchSpace& space, const TrainOptions& base,
    const std::function<Result<TrainReport>(TrainOptions, const fs::path&, const json&)>& train, json* record) {
  // The trials' parameters, drawn from the space with the job's seed.
  std::mt19937_64 rng(base.seed + 1000);
  std::vector<TrainOptions> trials(static_cast<size_t>(space.trials), base);
  for (TrainOptions& o : trials) {
    for (const auto& [name, range] : space.ranges) {
      const auto [low, high] = range;
      double v = SearchSpace::IsLogScale(name)
                     ? std::exp(std::uniform_real_distribution<double>(std::log(low), std::log(high))(rng))
                     : std::uniform_real_distribution<double>(low, high)(rng);
      if (SearchSpace::IsInteger(name)) v = std::floor(v + 0.5);
      if (name == "max_depth") o.max_depth = static_cast<int>(v);
      if (name == "rounds") o.rounds = static_cast<int>(v);
      if (name == "learning_rate") o.learning_rate = v;
      if (name == "subsample") o.subsample = v;
      if (name == "colsample_bytree") o.colsample_bytree = v;
      if (name == "reg_lambda") o.reg_lambda = v;
      if (name == "reg_alpha") o.reg_alpha = v;
    }
  }
  // Random: every trial at its own rounds. Halving: rungs of rounds growing
  // threefold up to the largest, the best third of each rung going on.
  int max_rounds = base.rounds;
  if (auto it = space.ranges.find("rounds"); it != space.ranges.end()) max_rounds = static_cast<int>(it->second.second);
  std::vector<size_t> alive(trials.size());
  std::iota(alive.begin(), alive.end(), 0);
  int rung_rounds = max_rounds;
  if (space.method == "halving") {
    int rungs = 0;
    for (size_t n = trials.size(); n > 1; n = (n + 2) / 3) ++rungs;
    rung_rounds = std::max(10, static_cast<int>(max_rounds / std::pow(3.0, rungs)));
  }
  json rows = json::array();
  std::vector<double> score(trials.size(), -1);
  std::map<size_t, TrainReport> reports;
  for (int rung = 0;; ++rung) {
    for (size_t i : alive) {
      TrainOptions o = trials[i];
      if (space.method == "halving") o.rounds = std::min(rung_rounds, max_rounds);
      const json where = {{"trial", i + 1}, {"trials", trials.size()}, {"rung", rung + 1}};
      auto report = train(o, options_.work_dir / std::to_string(job.record.id) / "trials" /
                                 (std::to_string(i) + "-" + std::to_string(rung)),
                          where);
      if (!report.ok()) return report.status();
      score[i] = std::isfinite(report->validation_auc) ? report->validation_auc : -1;
      rows.push_back({{"trial", i + 1},
                      {"rung", rung + 1},
                      {"rounds", o.rounds},
                      {"max_depth", o.max_depth},
                      {"learning_rate", o.learning_rate},
                      {"subsample", o.subsample},
                      {"colsample_bytree", o.colsample_bytree},
                      {"reg_lambda", o.reg_lambda},
                      {"reg_alpha", o.reg_alpha},
                      {"best_iteration", report->best_iteration},
                      {"validation_auc", Number(report->validation_auc)}});
      reports[i] = std::move(*report);
      trials[i].rounds = o.rounds;
    }
    std::stable_sort(alive.begin(), alive.end(), [&](size_t a, size_t b) { return score[a] > score[b]; });
    if (space.method != "halving" || alive.size() == 1 || rung_rounds >= max_rounds) break;
    alive.resize((alive.size() + 2) / 3);
    rung_rounds *= 3;
  }
  const size_t best = alive.front();
  *record = {{"method", space.method}, {"trials", rows}, {"best_trial", best + 1},
             {"selected_by", "validation_auc"}};
  spdlog::info("job {}: search over {} trials chose trial {} (validation AUC {:.4f})", job.record.id,
               trials.size(), best + 1, score[best]);
  return std::pair<TrainOptions, TrainReport>{trials[best], reports.at(best)};
}

void JobRunner::Finish(Live& job, const std::string& state, const std::string& result, const std::string& error) {
  JobRecord r;
  {
    std::lock_guard lock(mu_);
    r = job.record;
    r.progress = job.progress;
  }
  r.state = state;
  r.result = result;
  r.error = error;
  r.finished_ms = options_.now_ms();
  if (Status s = store_.UpdateJob(r); !s.ok()) spdlog::error("job {}: {}", r.id, s.ToString());
  ModelEvent event;
  event.time_ms = r.finished_ms;
  event.model = r.model;
  event.kind = "job";
  event.actor = r.actor;
  event.reason = error;
  const json parsed = json::parse(result, nullptr, false);
  if (parsed.is_object() && parsed.contains("version")) event.version = parsed["version"].get<int64_t>();
  event.detail = Dump(json{{"job", r.id}, {"kind", r.kind}, {"state", state}});
  if (auto added = store_.AddModelEvent(event); !added.ok()) {
    spdlog::error("job {}: recording its event: {}", r.id, added.status().ToString());
  }
  if (state == "succeeded") {
    spdlog::info("job {}: model {} version {} trained and registered", r.id, r.model, event.version);
  } else {
    spdlog::warn("job {}: model {} {}: {}", r.id, r.model, state, error);
  }
  // Readers see the end only now, with the record and its event stored; the
  // job stops being live in the same step, so a next job for the model can
  // be submitted as soon as this one shows ended.
  std::function<void(const JobRecord&)> hook;
  {
    std::lock_guard lock(mu_);
    job.record = r;
    live_.erase(r.id);
    hook = finished_hook_;
  }
  if (hook) hook(r);
}

}  // namespace vigil
