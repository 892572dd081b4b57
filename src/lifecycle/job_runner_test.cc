// Training from production and training jobs, on a real repository (the
// credit model trained for real), a real SQLite store with a prediction log
// and feedback, and the real trainer.
#include "lifecycle/job_runner.h"

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/sha256.h"
#include "dataset/tabular_dataset.h"
#include "lifecycle/evaluator.h"
#include "lifecycle/feature_matrix.h"
#include "lifecycle/production_data.h"
#include "monitor/prediction_log.h"
#include "store/sqlite_store.h"
#include "testing/test_repository.h"

namespace vigil {
namespace {

using nlohmann::json;
using testing::TempDir;

class JobRunnerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    trained_ = new TempDir();
    testing::TrainCreditModel(trained_->path(), "credit", 1);
  }
  static void TearDownTestSuite() { delete trained_; }

  void SetUp() override {
    std::filesystem::copy(trained_->path(), repo_.path(), std::filesystem::copy_options::recursive);
    auto store = SqliteStore::Open(dir_.path() / "vigil.db");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    registry_ = std::make_unique<Registry>(*store_, repo_.path(), backends_);
    auto config = LoadModelConfig(repo_.path() / "credit" / "model.yaml", "credit");
    ASSERT_TRUE(config.ok());
    config_ = std::make_shared<const ModelConfig>(std::move(*config));
  }

  // Logs the first `rows` applicants of the credit data as requests of 50
  // rows at times 1000, 1001, ..., and labels every row with its Status.
  void LogAndLabel(size_t rows) {
    auto data = TabularDataset::ReadCsv(testing::CreditCsv());
    ASSERT_TRUE(data.ok());
    auto matrix = FeatureMatrix(*data, *config_, "credit");
    ASSERT_TRUE(matrix.ok());
    const Column& status = data->columns()[data->ColumnIndex("Status")];
    const int64_t f = static_cast<int64_t>(config_->features.size());
    MetricsRegistry metrics;
    PredictionLog log(*store_, PredictionLogOptions{}, metrics);
    std::vector<FeedbackItem> feedback;
    for (size_t start = 0; start < rows; start += 50) {
      const int64_t n = static_cast<int64_t>(std::min<size_t>(50, rows - start));
      Tensor features("input", DataType::kFp32, {n, f});
      std::copy(matrix->begin() + static_cast<int64_t>(start) * f, matrix->begin() + (static_cast<int64_t>(start) + n) * f,
                features.values<float>().begin());
      Tensor p("probability", DataType::kFp32, {n});
      const std::string id = "req-" + std::to_string(start);
      ASSERT_TRUE(log.Record(PredictionLog::MakeRecord(config_, 1, id, true, 1000 + static_cast<int64_t>(start),
                                                       "champion", features, {}, {p})));
      for (int64_t r = 0; r < n; ++r) {
        feedback.push_back({id, r, "\"" + status.strings[start + static_cast<size_t>(r)] + "\""});
      }
    }
    ASSERT_TRUE(log.Flush(std::chrono::seconds(10)));
    auto outcomes = store_->RecordFeedback("credit", feedback, 5000);
    ASSERT_TRUE(outcomes.ok()) << outcomes.status().ToString();
    for (FeedbackOutcome o : *outcomes) ASSERT_EQ(o, FeedbackOutcome::kRecorded);
  }

  // Waits (bounded) for the job to end.
  JobRecord WaitEnded(JobRunner& runner, int64_t id) {
    for (int i = 0; i < 3000; ++i) {
      auto job = runner.Get(id);
      EXPECT_TRUE(job.ok());
      if (job.ok() && job->state != "queued" && job->state != "running") return *job;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "job " << id << " did not end";
    return {};
  }

  static TempDir* trained_;
  TempDir repo_, dir_;
  std::unique_ptr<SqliteStore> store_;
  BackendRegistry backends_ = BackendRegistry::WithBuiltins();
  std::unique_ptr<Registry> registry_;
  std::shared_ptr<const ModelConfig> config_;
};
TempDir* JobRunnerTest::trained_ = nullptr;

TEST_F(JobRunnerTest, ProductionDataIsTheLoggedRowsWithTheirLabelsAsRawValues) {
  LogAndLabel(200);
  ProductionDataOptions options;
  options.from_ms = 0;
  options.to_ms = 1'000'000;
  const auto csv = dir_.path() / "data.csv";
  auto report = WriteProductionData(*store_, *config_, options, csv);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->production_rows, 200);
  EXPECT_EQ(report->original_rows, 0);

  // The same cells as the credit file's first 200 rows, by name.
  auto written = TabularDataset::ReadCsv(csv);
  auto original = TabularDataset::ReadCsv(testing::CreditCsv());
  ASSERT_TRUE(written.ok() && original.ok());
  ASSERT_EQ(written->rows(), 200u);
  for (const char* name : {"Status", "Home", "Age", "Income", "Job"}) {
    const Column& w = written->columns()[written->ColumnIndex(name)];
    const Column& o = original->columns()[original->ColumnIndex(name)];
    for (size_t r = 0; r < 200; ++r) {
      if (o.numeric) {
        EXPECT_TRUE(w.numbers[r] == o.numbers[r] || (std::isnan(w.numbers[r]) && std::isnan(o.numbers[r])))
            << name << " row " << r;
      } else {
        EXPECT_EQ(w.strings[r], o.strings[r]) << name << " row " << r;
      }
    }
  }

  // Mixed half and half with the original data; out of range: nothing.
  options.original = testing::CreditCsv();
  options.original_share = 0.5;
  report = WriteProductionData(*store_, *config_, options, csv);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->original_rows, 200);
  EXPECT_EQ(TabularDataset::ReadCsv(csv)->rows(), 400u);
  // Original data labelled 0/1 is written with the class names, like production's.
  std::string zero_one = testing::ReadFile(testing::CreditCsv());
  for (const auto& [from, to] : {std::pair<std::string, std::string>{"\n\"good\",", "\n0,"}, {"\n\"bad\",", "\n1,"}}) {
    for (size_t at = zero_one.find(from); at != std::string::npos; at = zero_one.find(from, at + 1)) {
      zero_one.replace(at, from.size(), to);
    }
  }
  testing::WriteFile(dir_.path() / "zero_one.csv", zero_one);
  options.original = dir_.path() / "zero_one.csv";
  report = WriteProductionData(*store_, *config_, options, csv);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->original_rows, 200);
  auto mixed = TabularDataset::ReadCsv(csv);
  ASSERT_TRUE(mixed.ok());
  EXPECT_EQ(mixed->columns()[mixed->ColumnIndex("Status")].categories, (std::vector<std::string>{"bad", "good"}));
  options.from_ms = 2'000'000;
  options.to_ms = 3'000'000;
  EXPECT_EQ(WriteProductionData(*store_, *config_, options, csv).status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(JobRunnerTest, AProductionJobTrainsRegistersAndAliasesTheNewVersion) {
  LogAndLabel(2000);
  RegisterOptions adopted;
  adopted.model = "credit";
  adopted.origin = "trained";
  adopted.parameters = R"({"max_depth": 3, "learning_rate": 0.1})";
  ASSERT_TRUE(registry_->Adopt(1, adopted).ok());
  ASSERT_TRUE(registry_->SetAlias("credit", "champion", 1, "ana", "").ok());

  JobRunner runner(*store_, *registry_, {repo_.path(), {}, nullptr});
  ASSERT_TRUE(runner.Start().ok());
  auto spec = ParseTrainingJobSpec(
      "credit", R"({"source": "production", "from": "1970-01-01T00:00:00Z", "to": "1970-01-01T00:01:00Z",
                    "parameters": {"rounds": 40, "seed": 3}, "alias": "challenger", "by": "ana",
                    "reason": "drift on Income"})",
      0);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  auto job = runner.SubmitTraining(*spec);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  EXPECT_EQ(job->state, "queued");
  const JobRecord done = WaitEnded(runner, job->id);
  ASSERT_EQ(done.state, "succeeded") << done.error;
  const json result = json::parse(done.result);
  EXPECT_EQ(result["version"], 2);
  EXPECT_EQ(result["parent_version"], 1);
  EXPECT_EQ(result["data"]["production_rows"], 2000);
  EXPECT_EQ(result["data"]["holdout_rows"], 400);  // gate.holdout_fraction's default, 0.2.
  EXPECT_GT(result["metrics"]["test_auc"].get<double>(), 0.7);
  // Judged against the champion on the holdout.
  const json& evaluation = result["evaluation"];
  EXPECT_EQ(evaluation["champion_version"], 1);
  EXPECT_EQ(evaluation["metric"], "auc");
  EXPECT_EQ(evaluation["rows"], 400);
  EXPECT_EQ(evaluation["blessed"], evaluation["reasons"].empty());
  EXPECT_TRUE(LatestEvaluation(*store_, "credit", 2).ok());
  const json progress = json::parse(done.progress);
  EXPECT_EQ(progress["stage"], "evaluating");

  auto version = registry_->Version("credit", 2);
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(version->origin, "trained");
  EXPECT_EQ(version->parent_version, 1);
  EXPECT_EQ(version->data_rows, 1600);  // Trained on what the holdout left.
  EXPECT_EQ(version->author, "ana");
  EXPECT_FALSE(version->profile.empty());
  const json parameters = json::parse(version->parameters);
  EXPECT_EQ(parameters["max_depth"], 3);        // The champion's.
  EXPECT_EQ(parameters["learning_rate"], 0.1);  // The champion's.
  EXPECT_EQ(parameters["rounds"], 40);          // The job's.
  EXPECT_EQ(registry_->AliasesOf("credit")->at("challenger"), 2);
  EXPECT_TRUE(std::filesystem::exists(repo_.path() / "credit" / "2" / "model.json"));
  EXPECT_FALSE(std::filesystem::exists(repo_.path() / ".jobs" / std::to_string(job->id)));

  // The job's end is in the model's events.
  ModelEventQuery query;
  query.model = "credit";
  query.kind = "job";
  auto events = store_->ModelEvents(query);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].version, 2);
  EXPECT_EQ(json::parse((*events)[0].detail)["state"], "succeeded");
}

TEST_F(JobRunnerTest, JobsAreCancelledOneAtATimePerModelAndInterruptedOnesFailAtStart) {
  {
    // A job left running by a process that stopped.
    JobRecord stale;
    stale.model = "credit";
    stale.state = "running";
    stale.actor = "ana";
    stale.created_ms = stale.started_ms = 1;
    ASSERT_TRUE(store_->AddJob(stale).ok());
  }
  JobRunner runner(*store_, *registry_, {repo_.path(), {}, nullptr});
  ASSERT_TRUE(runner.Start().ok());
  auto stale = runner.Get(1);
  ASSERT_TRUE(stale.ok());
  EXPECT_EQ(stale->state, "failed");
  EXPECT_NE(stale->error.find("interrupted"), std::string::npos);

  // A long job: cancelled between rounds, and nothing registered.
  TrainingJobSpec spec;
  spec.model = "credit";
  spec.data = testing::CreditCsv();
  spec.rounds = 100000;
  spec.early_stopping_rounds = 100000;
  spec.learning_rate = 0.001;
  auto job = runner.SubmitTraining(spec);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  EXPECT_EQ(runner.SubmitTraining(spec).status().code(), StatusCode::kFailedPrecondition);
  // Progress shows while it trains.
  bool training = false;
  for (int i = 0; i < 3000 && !training; ++i) {
    training = json::parse(runner.Get(job->id)->progress).value("stage", "") == "training";
    if (!training) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(training);
  ASSERT_TRUE(runner.Cancel(job->id).ok());
  const JobRecord done = WaitEnded(runner, job->id);
  EXPECT_EQ(done.state, "cancelled");
  EXPECT_NE(done.error.find("training cancelled at round"), std::string::npos) << done.error;
  EXPECT_TRUE(registry_->Versions("credit")->empty());
  EXPECT_EQ(runner.Cancel(job->id).status().code(), StatusCode::kFailedPrecondition);

  // Bad requests are refused with the key.
  EXPECT_NE(ParseTrainingJobSpec("credit", R"({"source": "tape"})", 0).status().message().find("source"),
            std::string::npos);
  EXPECT_NE(ParseTrainingJobSpec("credit", R"({"source": "csv"})", 0).status().message().find("data"),
            std::string::npos);
  EXPECT_NE(ParseTrainingJobSpec("credit", R"({"source": "production", "parameters": {"depth": 3}})", 0)
                .status()
                .message()
                .find("parameters.depth"),
            std::string::npos);
  EXPECT_NE(ParseTrainingJobSpec("credit", R"({"source": "production", "alias": "champion"})", 0)
                .status()
                .message()
                .find("does not move the champion"),
            std::string::npos);
  spec.model = "nope";
  EXPECT_EQ(runner.SubmitTraining(spec).status().code(), StatusCode::kNotFound);
}

// With a search space in model.yaml, a job tries seeded trials and keeps the
// best by validation AUC, recording every trial with the version.
TEST_F(JobRunnerTest, ASearchSpaceRunsTrialsAndKeepsTheBestByValidationAuc) {
  const auto yaml = repo_.path() / "credit" / "model.yaml";
  const std::string base = testing::ReadFile(yaml);
  JobRunner runner(*store_, *registry_, {repo_.path(), {}, nullptr});
  ASSERT_TRUE(runner.Start().ok());
  int64_t expected_version = 2;
  for (const char* method : {"random", "halving"}) {
    testing::WriteFile(yaml, base + "training:\n  search:\n    method: " + method +
                                 "\n    trials: 5\n    space:\n      max_depth: [2, 5]\n"
                                 "      learning_rate: [0.05, 0.3]\n      rounds: [20, 60]\n");
    TrainingJobSpec spec;
    spec.model = "credit";
    spec.data = testing::CreditCsv();
    auto job = runner.SubmitTraining(spec);
    ASSERT_TRUE(job.ok()) << job.status().ToString();
    const JobRecord done = WaitEnded(runner, job->id);
    ASSERT_EQ(done.state, "succeeded") << done.error;
    auto version = registry_->Version("credit", expected_version++);
    ASSERT_TRUE(version.ok());
    const json parameters = json::parse(version->parameters);
    const json& search = parameters["search"];
    ASSERT_TRUE(search.is_object()) << parameters.dump();
    EXPECT_EQ(search["method"], method);
    const json& trials = search["trials"];
    // The chosen trial has the best validation AUC of the last rung, and its
    // parameters are the version's.
    const int best = search["best_trial"];
    json chosen;
    double best_auc = -1;
    int last_rung = 0;
    for (const json& t : trials) last_rung = std::max(last_rung, t["rung"].get<int>());
    for (const json& t : trials) {
      if (t["rung"] != last_rung) continue;
      if (t["validation_auc"].get<double>() > best_auc) best_auc = t["validation_auc"].get<double>();
      if (t["trial"] == best) chosen = t;
    }
    ASSERT_TRUE(chosen.is_object());
    EXPECT_EQ(chosen["validation_auc"].get<double>(), best_auc);
    EXPECT_EQ(parameters["max_depth"], chosen["max_depth"]);
    EXPECT_EQ(parameters["learning_rate"], chosen["learning_rate"]);
    EXPECT_EQ(parameters["rounds"], chosen["rounds"]);
    for (const json& t : trials) {
      EXPECT_GE(t["max_depth"].get<int>(), 2);
      EXPECT_LE(t["max_depth"].get<int>(), 5);
      EXPECT_GE(t["learning_rate"].get<double>(), 0.05);
      EXPECT_LE(t["learning_rate"].get<double>(), 0.3);
    }
    if (std::string(method) == "random") {
      EXPECT_EQ(trials.size(), 5u);
      EXPECT_EQ(last_rung, 1);
    } else {
      // 5 trials at a few rounds, the best 2 on at three times as many, then 1.
      EXPECT_GT(last_rung, 1);
      EXPECT_GT(trials.size(), 5u);
      EXPECT_LT(trials[0]["rounds"].get<int>(), 60);
    }
  }
}

// An external trainer: a command that gets the data file and an output
// directory; its artifact goes through registration and the gate, its
// failures, timeouts and cancellation are reported.
TEST_F(JobRunnerTest, AnExternalTrainersArtifactIsRegisteredAndItsFailuresReported) {
  const auto yaml = repo_.path() / "credit" / "model.yaml";
  const std::string base = testing::ReadFile(yaml);
  // The "framework": copies another trained model, and records its arguments.
  testing::TrainCreditModel(dir_.path() / "other", "credit", 1, /*seed=*/7);
  const auto other = dir_.path() / "other" / "credit" / "1" / "model.json";
  auto external = [&](const std::string& command, int timeout = 60) {
    testing::WriteFile(yaml, base + "training:\n  external:\n    command: " + command +
                                 "\n    artifact: model.json\n    timeout_seconds: " + std::to_string(timeout) + "\n");
  };
  external("[sh, -c, 'head -1 \"$1\" > \"$2\"/header.txt && cp " + other.string() +
           " \"$2\"/model.json && cp \"$2\"/header.txt " + (dir_.path() / "seen.txt").string() + "', sh, '{data}', '{output}']");
  JobRunner runner(*store_, *registry_, {repo_.path(), {}, nullptr});
  ASSERT_TRUE(runner.Start().ok());
  TrainingJobSpec spec;
  spec.model = "credit";
  spec.data = testing::CreditCsv();
  auto job = runner.SubmitTraining(spec);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  JobRecord done = WaitEnded(runner, job->id);
  ASSERT_EQ(done.state, "succeeded") << done.error;
  auto version = registry_->Version("credit", 2);
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(version->origin, "external");
  EXPECT_EQ(version->sha256, *Sha256File(other));
  EXPECT_FALSE(version->profile.empty());  // Built from the training data at registration.
  EXPECT_EQ(json::parse(done.result)["evaluation"]["rows"], 891);  // 20% of 4454 held out.
  // {data} was the training part of the CSV, with its header.
  EXPECT_EQ(testing::ReadFile(dir_.path() / "seen.txt").substr(0, 9), "\"Status\",");

  external("[sh, -c, 'echo the GPU is on fire >&2; exit 3']");
  job = runner.SubmitTraining(spec);
  ASSERT_TRUE(job.ok());
  done = WaitEnded(runner, job->id);
  EXPECT_EQ(done.state, "failed");
  EXPECT_EQ(done.error, "external trainer exited with status 3: the GPU is on fire");

  external("[sleep, '30']", /*timeout=*/1);
  job = runner.SubmitTraining(spec);
  ASSERT_TRUE(job.ok());
  done = WaitEnded(runner, job->id);
  EXPECT_EQ(done.state, "failed");
  EXPECT_NE(done.error.find("timed out after 1 s"), std::string::npos) << done.error;

  external("[sleep, '30']");
  job = runner.SubmitTraining(spec);
  ASSERT_TRUE(job.ok());
  for (int i = 0; i < 500 && json::parse(runner.Get(job->id)->progress).value("stage", "") != "external"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(runner.Cancel(job->id).ok());
  done = WaitEnded(runner, job->id);
  EXPECT_EQ(done.state, "cancelled");
  EXPECT_EQ(registry_->Versions("credit")->size(), 1u);
}

}  // namespace
}  // namespace vigil
