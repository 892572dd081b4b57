// JobRunner: training jobs in the background of a running server.
//
// A job trains a new version of a model from a CSV file or from production
// (logged requests joined with their feedback labels over a time range,
// optionally mixed with the original training data; production_data.h),
// with XGBoost in-process, and registers the result (registry.h) with its
// parameters, metrics, training-data fingerprint and reference profile,
// the champion as its parent, and the aliases the job asks for.
//
// Jobs run one at a time on the runner's own thread, at a lower CPU
// priority (nice 10) than the request threads, with XGBoost on one thread:
// serving never waits on them. A model has at most one job queued or
// running. Each job is seeded (the split and XGBoost's sampling), so the same
// data and parameters give the same artifact; cancellable (between boosting
// rounds); and reports its stage and progress (round, validation AUC) through
// Get(). Parameters the job does not give are the champion's (from its
// registry record), else the trainer's defaults; when model.yaml declares a
// search space (`training: search:`) and the job fixes no parameter, a
// seeded random or successive-halving search picks them by validation AUC,
// and every trial is recorded with the version.
//
// Jobs are records in the store: state changes are committed as they
// happen, and a job that was queued or running when the server stopped is
// marked failed ("interrupted") when the next one starts. Every job's end is
// also a model event (kind "job"), so /api/events shows it in the model's
// history.
//
// Thread-safety: thread-safe.
#ifndef VIGIL_LIFECYCLE_JOB_RUNNER_H_
#define VIGIL_LIFECYCLE_JOB_RUNNER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "lifecycle/registry.h"
#include "lifecycle/xgboost_trainer.h"
#include "store/store.h"

namespace vigil {

struct TrainingJobSpec {
  std::string model;
  std::string source = "csv";   // "csv" or "production".
  std::filesystem::path data;   // csv: the data; production: original training data to mix in (optional).
  int64_t from_ms = 0, to_ms = 0;  // production: the requests' time range.
  double original_share = 0;       // production: share of rows from `data`, in [0, 1).
  std::string target = "Status";   // The label column.
  // Training parameters; unset: the champion's, else the trainer's defaults.
  std::optional<int64_t> rounds, max_depth, early_stopping_rounds, seed;
  std::optional<double> learning_rate, subsample, colsample_bytree;
  std::vector<std::string> aliases;  // Pointed at the new version (e.g. challenger).
  bool rollout = false;  // Roll the new version out if the gate blesses it (lifecycle/closed_loop.h).
  std::string actor = "vigil";
  std::string reason;
};

// Parses a job request (JSON object): source, data, hours (or from/to as RFC
// 3339), original_share, target, parameters {rounds, max_depth,
// learning_rate, subsample, colsample_bytree, early_stopping_rounds, seed},
// alias (a name or a list), rollout (true/false), by, reason. Errors name the key.
Result<TrainingJobSpec> ParseTrainingJobSpec(const std::string& model, const std::string& json, int64_t now_ms);
// The spec as the JSON that ParseTrainingJobSpec reads (times as from/to).
std::string TrainingJobSpecJson(const TrainingJobSpec& spec);

class JobRunner {
 public:
  struct Options {
    std::filesystem::path repository;
    std::filesystem::path work_dir;  // Each job's files, removed when it ends (default: REPO/.jobs).
    Clock now_ms;  // Default: the system clock.
  };
  JobRunner(Store& store, Registry& registry, Options options);
  // Cancels the running job and waits for it.
  ~JobRunner();
  JobRunner(const JobRunner&) = delete;
  JobRunner& operator=(const JobRunner&) = delete;

  // Marks jobs a previous process left queued or running as failed, and
  // starts the worker.
  Status Start();

  // Queues a training job; FAILED_PRECONDITION if the model has one queued or
  // running, NOT_FOUND if the model is not in the repository.
  Result<JobRecord> SubmitTraining(TrainingJobSpec spec);
  // The job, with its live progress while it runs.
  Result<JobRecord> Get(int64_t id);
  Result<std::vector<JobRecord>> List(const std::string& model, int64_t limit);
  // A queued job is cancelled at once; a running one stops at its next
  // boosting round. FAILED_PRECONDITION if it has ended.
  Result<JobRecord> Cancel(int64_t id);
  // Called on the worker thread when a job ends (the closed loop listens).
  void SetFinishedHook(std::function<void(const JobRecord&)> hook);
  // Called on the worker thread before a job reads production data: the
  // server flushes its prediction log there, so that a job sees every
  // request answered before it started (the log is written in the background).
  void SetBeforeProductionDataHook(std::function<void()> hook);

 private:
  struct Live {
    JobRecord record;
    TrainingJobSpec spec;
    std::atomic<bool> cancel{false};
    std::string progress = "{}";  // Guarded by mu_.
  };
  void Work();
  // Runs `job`; returns the result JSON or why it failed.
  Result<std::string> Run(Live& job);
  // Registers the trained artifact (`r`), points the job's aliases at it and
  // runs the gate on `holdout`; the job's result JSON.
  Result<std::string> RegisterAndEvaluate(Live& job, const RegisterOptions& r, int64_t champion,
                                          const std::filesystem::path& holdout, const nlohmann::json& data_report,
                                          const nlohmann::json& metrics);
  // Runs the model's external trainer on `data`; the artifact it wrote.
  Result<std::filesystem::path> RunExternal(Live& job, const ExternalTrainer& trainer,
                                            const std::filesystem::path& data, const std::filesystem::path& work);
  // The hyperparameter search of `space` around `base`, each trial run by
  // `train`: the best trial's options and report; `record` gets every trial.
  Result<std::pair<TrainOptions, TrainReport>> Search(
      Live& job, const SearchSpace& space, const TrainOptions& base,
      const std::function<Result<TrainReport>(TrainOptions, const std::filesystem::path&, const nlohmann::json&)>&
          train,
      nlohmann::json* record);
  void SetProgress(Live& job, const nlohmann::json& progress);
  // Saves the record and, for an ended job, records its event.
  void Finish(Live& job, const std::string& state, const std::string& result, const std::string& error);

  Store& store_;
  Registry& registry_;
  Options options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<int64_t> queue_;                   // Guarded by mu_.
  std::map<int64_t, std::shared_ptr<Live>> live_;  // Queued and running; guarded by mu_.
  std::function<void(const JobRecord&)> finished_hook_;  // Guarded by mu_.
  std::function<void()> before_production_data_hook_;  // Guarded by mu_.
  bool stopping_ = false;  // Guarded by mu_.
  std::thread worker_;
};

}  // namespace vigil

#endif  // VIGIL_LIFECYCLE_JOB_RUNNER_H_
