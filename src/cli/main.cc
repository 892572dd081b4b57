// The `vigil` command: `vigil serve` runs the server; `vigil train` trains a
// model into a repository, `vigil optimize` prunes one, `vigil profile`
// builds a version's reference profile, `vigil monitor` reports drift and
// quality from the store, `vigil log` prints the logged requests; the
// registry's commands (register, versions, alias, rollback, history) are in
// registry_commands.cc. `vigil --help` and `vigil SUBCOMMAND --help` describe
// every option.
#include <spdlog/spdlog.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>

#include <CLI/CLI.hpp>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <span>
#include <stop_token>
#include <thread>
#include <tuple>
#include <iostream>

#include "backends/backend.h"
#include "cli/command_support.h"
#include "cli/registry_commands.h"
#include "cli/security_commands.h"
#include "http/api_router.h"
#include "http/http_client.h"
#include "http/http_server.h"
#include "lifecycle/closed_loop.h"
#include "lifecycle/model_optimizer.h"
#include "lifecycle/job_runner.h"
#include "lifecycle/reference_data.h"
#include "lifecycle/registry.h"
#include "lifecycle/rollout.h"
#include "lifecycle/xgboost_trainer.h"
#include "manager/model_manager.h"
#include "monitor/alert_engine.h"
#include "monitor/alert_notifier.h"
#include "monitor/metrics.h"
#include "monitor/monitor_report.h"
#include "monitor/prediction_log.h"
#include "monitor/serving_metrics.h"
#include "serving/inference_service.h"
#include "serving/shadow_runner.h"
#include "security/access_control.h"
#include "security/artifact_cipher.h"
#include "store/sqlite_store.h"

namespace vigil {
namespace {

struct ServeFlags {
  std::string repository;
  std::string model_control = "poll";
  int poll_interval_ms = 5000;
  HttpServer::Options http;
  std::string log_level = "info";
  std::string store = "vigil.db";
  bool prediction_log = true;
  PredictionLogOptions log;
  int64_t log_retention_hours = 24 * 30;
  int64_t window_rows = 1000;
  int64_t window_seconds = 3600;
  std::vector<std::string> alert_webhooks;
  std::vector<std::string> alertmanagers;
  int64_t alert_interval_seconds = 60;
  int64_t alert_resend_seconds = 60;
  int64_t unloaded_metrics_seconds = 300;
  std::string external_url;
  std::string auth = "auto";
  std::string model_key_file;
  std::vector<std::string> open_endpoints{"health"};
  AccessControl::Options access;
};

// 127.0.0.0/8 and ::1: only this machine can connect.
bool IsLoopback(const std::string& host) {
  in_addr v4{};
  in6_addr v6{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

int Serve(const ServeFlags& flags) {
  spdlog::set_level(spdlog::level::from_str(flags.log_level));
  if (!flags.model_key_file.empty()) {
    auto key = ReadModelKeyFile(flags.model_key_file);
    if (!key.ok()) {
      std::fprintf(stderr, "vigil serve: --model-key-file: %s\n", key.status().message().c_str());
      return 2;
    }
    BackendRegistry::SetProcessArtifactKey(*key);
  }
  MetricsRegistry registry;
  AddProcessCollector(registry);
  ServingMetrics metrics(registry, std::chrono::seconds(flags.unloaded_metrics_seconds));
  BackendRegistry backends = BackendRegistry::WithBuiltins();

  // Declared in dependency order, so that they are destroyed the other way:
  // the manager asks the registry, which uses the store; the log's writer
  // uses the monitor, which tells the alert engine of closed windows; the
  // engine and the notifier use the store.
  std::unique_ptr<SqliteStore> store;
  std::unique_ptr<Registry> model_registry;
  std::unique_ptr<JobRunner> jobs;
  if (flags.store != "none") {
    auto opened = SqliteStore::Open(flags.store);
    if (!opened.ok()) {
      std::fprintf(stderr, "vigil serve: %s\n", opened.status().message().c_str());
      return 2;
    }
    store = std::move(*opened);
    model_registry = std::make_unique<Registry>(*store, flags.repository, backends);
    jobs = std::make_unique<JobRunner>(*store, *model_registry, JobRunner::Options{flags.repository, {}, nullptr});
    if (Status s = jobs->Start(); !s.ok()) {
      std::fprintf(stderr, "vigil serve: jobs: %s\n", s.message().c_str());
      return 2;
    }
  }
  // API keys: on whenever anyone but this machine can connect, unless the
  // operator says otherwise.
  std::unique_ptr<AccessControl> access;
  if (flags.auth == "on" || (flags.auth == "auto" && !IsLoopback(flags.http.host))) {
    if (!store) {
      std::fprintf(stderr, "vigil serve: API keys live in the store, and --store is none; authentication is on %s. "
                           "Give a --store, or --auth off if something in front of Vigil authenticates\n",
                   flags.auth == "on" ? "(--auth on)" : "because --host is not loopback");
      return 2;
    }
    AccessControl::Options options = flags.access;
    // Health stays open unless `--open none`; `--open metrics` opens /metrics too.
    options.open_health = std::ranges::count(flags.open_endpoints, "none") == 0;
    options.open_metrics = std::ranges::count(flags.open_endpoints, "metrics") > 0;
    access = std::make_unique<AccessControl>(*store, options);
    if (Status s = access->Load(); !s.ok()) {
      std::fprintf(stderr, "vigil serve: %s\n", s.message().c_str());
      return 2;
    }
    access->StartRefreshing();
    if (access->ActiveKeys() == 0) {
      spdlog::warn("authentication is on and the store holds no API key: every request but the open endpoints "
                   "gets 401. Create one with: vigil keys create --store {} --role admin", flags.store);
    } else {
      spdlog::info("authentication is on: {} API keys", access->ActiveKeys());
    }
  } else if (!IsLoopback(flags.http.host)) {
    spdlog::warn("authentication is off (--auth off) on {}: anyone who can reach it can use every endpoint",
                 flags.http.host);
  }
  ModelManager::Options manager_options;
  manager_options.repository = flags.repository;
  manager_options.poll_interval_ms = flags.poll_interval_ms;
  manager_options.mode = flags.model_control == "explicit" ? ModelControlMode::kExplicit
                         : flags.model_control == "none"   ? ModelControlMode::kNone
                                                           : ModelControlMode::kPoll;
  manager_options.catalog = model_registry.get();
  ModelManager manager(manager_options, backends, metrics);
  registry.AddCollector([&manager](std::string& out) {
    WriteFamilyHeader(out, "vigil_model_version_info",
                      "Model versions that are ready to serve (value 1), with their backend.",
                      "gauge");
    auto table = manager.table();
    for (const auto& [name, model] : table->models) {
      for (const auto& [v, s] : model.ready) {
        WriteSample(out, "vigil_model_version_info", {"model", "version", "backend"},
                    {name, s->version_label(), s->config().backend}, 1);
      }
    }
    WriteFamilyHeader(out, "vigil_rollout_share_percent",
                      "The running rollout's share of requests sent (canary) or copied (shadow) to its candidate.",
                      "gauge");
    for (const auto& [name, model] : table->models) {
      if (!model.split) continue;
      WriteSample(out, "vigil_rollout_share_percent", {"model", "version", "mode"},
                  {name, std::to_string(model.split->candidate), model.split->shadow ? "shadow" : "canary"},
                  100 * model.split->share);
    }
  });
  if (Status s = manager.Start(); !s.ok()) {
    std::fprintf(stderr, "vigil serve: %s\n", s.message().c_str());
    return 2;
  }
  for (const auto* urls : {&flags.alert_webhooks, &flags.alertmanagers}) {
    for (const std::string& url : *urls) {
      if (auto parsed = ParseHttpUrl(url); !parsed.ok()) {
        std::fprintf(stderr, "vigil serve: %s\n", parsed.status().message().c_str());
        return 2;
      }
    }
  }
  std::unique_ptr<AlertEngine> alerts;
  std::unique_ptr<AlertNotifier> notifier;
  std::unique_ptr<DriftMonitor> monitor;
  std::unique_ptr<PredictionLog> log;
  if (store) {
    AlertEngineOptions alert_options;
    alert_options.webhooks = flags.alert_webhooks;
    alert_options.alertmanagers = flags.alertmanagers;
    alert_options.evaluation_interval_ms = flags.alert_interval_seconds * 1000;
    alert_options.resend_interval_ms = flags.alert_resend_seconds * 1000;
    alert_options.window_rows = flags.window_rows;
    alert_options.external_url = flags.external_url;
    alert_options.history_ms = flags.log_retention_hours * 3600 * 1000;
    alerts = std::make_unique<AlertEngine>(alert_options, *store, registry, SystemClock());
    if (Status s = alerts->Start(); !s.ok()) {
      std::fprintf(stderr, "vigil serve: alerts: %s\n", s.message().c_str());
      return 2;
    }
    notifier = std::make_unique<AlertNotifier>(AlertNotifierOptions{}, *store, registry, SystemClock());
    alerts->SetNotifyHook([n = notifier.get()] { n->Wake(); });
    notifier->Start();
    if (flags.prediction_log) {
      PredictionLogOptions options = flags.log;
      options.retention = std::chrono::hours(flags.log_retention_hours);
      DriftMonitorOptions monitor_options;
      monitor_options.repository = flags.repository;
      monitor_options.window_rows = flags.window_rows;
      monitor_options.window_duration = std::chrono::seconds(flags.window_seconds);
      monitor_options.store = store.get();
      monitor_options.source = !flags.external_url.empty()
                                   ? flags.external_url
                                   : flags.http.host + ":" + std::to_string(flags.http.port);
      monitor = std::make_unique<DriftMonitor>(monitor_options, registry);
      monitor->SetWindowListener([a = alerts.get()](const ClosedWindow& w) { a->OnWindow(w); });
      log = std::make_unique<PredictionLog>(*store, options, registry, monitor.get());
    }
  }
  InferenceService inference(manager);
  // Rollouts: the shadow copies' worker, the controller that steps, promotes
  // and rolls back, and the closed loop from alerts through jobs to them.
  auto shadow = std::make_unique<ShadowRunner>(inference, registry, log.get());
  std::unique_ptr<RolloutController> rollouts;
  std::unique_ptr<ClosedLoop> closed_loop;
  if (store) {
    RolloutController::Options rollout_options;
    rollout_options.prediction_log = log != nullptr && flags.log.sample_rate > 0;
    rollouts = std::make_unique<RolloutController>(*store, manager, metrics, shadow.get(), rollout_options);
    closed_loop = std::make_unique<ClosedLoop>(*store, manager, *jobs, *rollouts, flags.repository);
    jobs->SetFinishedHook([c = closed_loop.get()](const JobRecord& job) { c->OnJobFinished(job); });
    if (log) {
      jobs->SetBeforeProductionDataHook([l = log.get()] {
        if (!l->Flush(std::chrono::seconds(30))) spdlog::warn("the prediction log did not flush within 30 s");
      });
    }
    alerts->SetActionHook(
        [c = closed_loop.get()](const AlertRecord& alert, const AlertRule& rule) { c->OnAlertFired(alert, rule); });
    rollouts->Start();
  }
  // Threads stop before what they use: no copy is logged after the shadow
  // worker stops; no window closes (and no alert acts) after the log's
  // writer stops; the job runner's last hook may still start a rollout; the
  // controller's thread reads the shadow counts. Also on an early return.
  auto stop_lifecycle = [&] {
    if (alerts) alerts->SetActionHook(nullptr);
    shadow->Stop();  // Drops the copies not run yet.
    jobs.reset();    // Before the log: a job flushes it before reading production data.
    log.reset();     // Writes what is queued.
    rollouts.reset();
    closed_loop.reset();
  };
  struct AtExit {
    std::function<void()> run;
    ~AtExit() { run(); }
  } at_exit{stop_lifecycle};
  ApiRouter::Services services;
  services.log = log.get();
  services.store = store.get();
  services.monitor = monitor.get();
  services.alerts = alerts.get();
  services.registry = model_registry.get();
  services.jobs = jobs.get();
  services.rollouts = rollouts.get();
  services.shadow = shadow.get();
  services.access = access.get();
  ApiRouter router(manager, inference, metrics, services);
  HttpServer server(
      flags.http, [&router](HttpRequest& r) { return router.Handle(r); }, [&router] { router.SetShuttingDown(); },
      [&router](std::string_view method, std::string_view path, std::string_view authorization) {
        return router.Authorize(method, path, authorization);
      });
  if (Status s = server.Start(); !s.ok()) {
    std::fprintf(stderr, "vigil serve: %s\n", s.message().c_str());
    return 2;
  }
  {
    // Scoped: a table held here would pin its versions for the whole run.
    auto table = manager.table();
    size_t ready = 0;
    for (const auto& [n, m] : table->models) ready += m.ready.empty() ? 0 : 1;
    std::printf("vigil listening on %s://%s:%u (%zu models, %zu ready; repository %s%s)\n",
                flags.http.tls_cert_file.empty() ? "http" : "https", flags.http.host.c_str(), server.port(),
                table->models.size(), ready, flags.repository.c_str(), access ? "; API keys required" : "");
  }
  std::fflush(stdout);
  // Quality and serving rules, deadlines, silences and re-sends are checked
  // every second (rules themselves at --alert-interval).
  std::jthread alert_loop;
  if (alerts) {
    alert_loop = std::jthread([&](std::stop_token stop) {
      pthread_setname_np(pthread_self(), "vigil-alerts");
      std::mutex mu;
      std::condition_variable_any cv;
      std::unique_lock lock(mu);
      for (;;) {
        // Returns early only when stop is requested.
        cv.wait_for(lock, stop, std::chrono::seconds(1), [] { return false; });
        if (stop.stop_requested()) break;
        std::vector<ServedModel> models;
        const auto table = manager.table();  // Held: the loop reads it.
        for (const auto& [name, model] : table->models) {
          ServedModel served{name, model.config, {}};
          for (const auto& [version, servable] : model.ready) served.versions.push_back(version);
          models.push_back(std::move(served));
        }
        alerts->Evaluate(models, &metrics);
        if (monitor) {
          // Versions that stopped serving leave the monitor's memory.
          std::set<std::pair<std::string, int64_t>> serving;
          for (const ServedModel& m : models) {
            for (int64_t v : m.versions) serving.insert({m.name, v});
          }
          monitor->Retain(serving, std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch()).count());
        }
      }
    });
  }
  server.Run();
  if (alert_loop.joinable()) {
    alert_loop.request_stop();
    alert_loop.join();
  }
  stop_lifecycle();
  manager.Stop();
  spdlog::info("vigil stopped");
  return 0;
}

int Train(const TrainOptions& options, const std::string& store, const std::string& author,
          const std::vector<std::string>& aliases) {
  if (!store.empty()) return RegistryCommands::TrainAndRegister(options, store, author, aliases);
  auto report = TrainXGBoostClassifier(options, [](const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  });
  if (!report.ok()) {
    std::fprintf(stderr, "vigil train: %s\n", report.status().message().c_str());
    return 1;
  }
  std::printf("wrote %s (version %lld)\n", report->artifact.c_str(),
              static_cast<long long>(report->version));
  return 0;
}

int Optimize(const OptimizeOptions& options) {
  auto report = OptimizeModel(options, [](const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  });
  if (!report.ok()) {
    std::fprintf(stderr, "vigil optimize: %s\n", report.status().message().c_str());
    return 1;
  }
  std::printf("wrote %s (version %lld) with optimize_report.json\n", report->artifact.c_str(),
              static_cast<long long>(report->version));
  return 0;
}

struct MonitorFlags {
  std::vector<std::string> stores;
  std::string repository, model;
  double hours = 24;
  int64_t window_rows = 1000;
};

int Monitor(const MonitorFlags& flags) {
  std::vector<std::unique_ptr<SqliteStore>> opened;
  std::vector<Store*> stores;
  for (const std::string& path : flags.stores) {
    auto store = SqliteStore::Open(path);
    if (!store.ok()) {
      std::fprintf(stderr, "vigil monitor: %s\n", store.status().message().c_str());
      return 1;
    }
    stores.push_back(store->get());
    opened.push_back(std::move(*store));
  }
  MonitorReportOptions options;
  options.repository = flags.repository;
  options.model_name = flags.model;
  options.to_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch()).count() + 1;
  options.from_ms = options.to_ms - static_cast<int64_t>(flags.hours * 3600 * 1000);
  options.window_rows = flags.window_rows;
  auto report = MonitorReport(stores, options);
  if (!report.ok()) {
    std::fprintf(stderr, "vigil monitor: %s\n", report.status().message().c_str());
    return 1;
  }
  std::fputs(report->c_str(), stdout);
  return 0;
}

struct LogFlags {
  std::string store, model;
  double hours = 1;
  int64_t limit = 1000;
};

// Prints the logged requests of the period, oldest first, one JSON object
// per line, each with the feedback its rows have.
int Log(const LogFlags& flags) {
  auto store = SqliteStore::Open(flags.store);
  if (!store.ok()) {
    std::fprintf(stderr, "vigil log: %s\n", store.status().message().c_str());
    return 1;
  }
  const int64_t to_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count() + 1;
  const int64_t from_ms = to_ms - static_cast<int64_t>(flags.hours * 3600 * 1000);
  auto logged = (*store)->Predictions(flags.model, from_ms, to_ms, flags.limit);
  auto labeled = (*store)->LabeledPredictions(flags.model, from_ms, to_ms, 100'000'000);
  if (!logged.ok() || !labeled.ok()) {
    std::fprintf(stderr, "vigil log: %s\n", (logged.ok() ? labeled.status() : logged.status()).message().c_str());
    return 1;
  }
  // Labelled rows come grouped by request.
  std::map<std::tuple<std::string, int64_t, int64_t>, std::pair<size_t, size_t>> feedback;
  for (size_t i = 0; i < labeled->size();) {
    const StoredPrediction& p = *(*labeled)[i].prediction;
    size_t j = i;
    while (j < labeled->size() && (*labeled)[j].prediction == (*labeled)[i].prediction) ++j;
    feedback.try_emplace({p.request_id, p.time_ms, p.version}, i, j);
    i = j;
  }
  for (const StoredPrediction& p : *logged) {
    std::span<const LabeledPrediction> labels;
    if (auto it = feedback.find({p.request_id, p.time_ms, p.version}); it != feedback.end()) {
      labels = std::span<const LabeledPrediction>(*labeled).subspan(it->second.first,
                                                                     it->second.second - it->second.first);
    }
    std::string line = PredictionLog::ToJson(p, labels);
    line += '\n';
    std::fputs(line.c_str(), stdout);
  }
  return 0;
}

int Profile(const ProfileOptions& options) {
  auto result = ProfileVersion(options);
  if (!result.ok()) {
    std::fprintf(stderr, "vigil profile: %s\n", result.status().message().c_str());
    return 1;
  }
  const ReferenceProfile& p = result->profile;
  std::printf("%-12s %-11s %8s %8s %12s %12s %12s\n", "feature", "type", "missing", "bins", "min", "mean", "max");
  for (const ColumnProfile& c : p.features) {
    if (c.categorical) {
      std::printf("%-12s %-11s %8lld %8zu\n", c.name.c_str(), "categorical", static_cast<long long>(c.missing),
                  c.counts.size());
    } else {
      std::printf("%-12s %-11s %8lld %8zu %12.4g %12.4g %12.4g\n", c.name.c_str(), "numeric",
                  static_cast<long long>(c.missing), c.counts.size(), c.min, c.mean, c.max);
    }
  }
  std::printf("%-12s %-11s %8lld %8zu %12.4g %12.4g %12.4g\n", "(prediction)", "numeric",
              static_cast<long long>(p.prediction.missing), p.prediction.counts.size(), p.prediction.min,
              p.prediction.mean, p.prediction.max);
  std::printf("wrote %s (%lld rows)\n", result->path.c_str(), static_cast<long long>(p.rows));
  return 0;
}

}  // namespace
}  // namespace vigil

int main(int argc, char** argv) {
  using namespace vigil;
  CLI::App app{"Vigil: deploy, monitor and maintain machine-learning models.\n"
               "Serves versioned models over the Open Inference Protocol (KServe v2)."};
  app.set_version_flag("--version", VIGIL_VERSION);
  app.require_subcommand(1);

  ServeFlags serve;
  CLI::App* serve_cmd = app.add_subcommand("serve", "Serve the models of a model repository over HTTP.");
  serve_cmd->add_option("--repository", serve.repository, "Model repository directory (REPO/<model>/model.yaml, REPO/<model>/<version>/)")
      ->required()->check(CLI::ExistingDirectory);
  serve_cmd->add_option("--host", serve.http.host, "Address to bind; anything but loopback exposes the server")->capture_default_str();
  serve_cmd->add_option("--port", serve.http.port, "TCP port; 0 picks a free one")->capture_default_str();
  serve_cmd->add_option("--threads", serve.http.threads, "Worker threads; 0 = number of cores")->capture_default_str();
  serve_cmd->add_option("--model-control", serve.model_control,
                        "poll: watch the repository; none: load once at start; explicit: load and unload only through /v2/repository/models/{m}/load|unload")
      ->check(CLI::IsMember({"poll", "none", "explicit"}))->capture_default_str();
  serve_cmd->add_option("--poll-interval-ms", serve.poll_interval_ms, "Repository scan period in poll mode")
      ->check(CLI::Range(50, 3600000))->capture_default_str();
  serve_cmd->add_option("--max-body-bytes", serve.http.max_body_bytes, "Larger request bodies are refused with 413")->capture_default_str();
  serve_cmd->add_option("--max-header-bytes", serve.http.max_header_bytes, "Larger request headers are refused with 431")->capture_default_str();
  serve_cmd->add_option("--header-timeout-ms", serve.http.header_timeout_ms, "Idle keep-alive plus header read time before the connection closes")->capture_default_str();
  serve_cmd->add_option("--body-timeout-ms", serve.http.body_timeout_ms, "Time to read a request body")->capture_default_str();
  serve_cmd->add_option("--shutdown-timeout-ms", serve.http.shutdown_timeout_ms, "Bound on finishing in-flight requests at SIGTERM/SIGINT")->capture_default_str();
  serve_cmd->add_option("--store", serve.store, "SQLite database for the prediction log and feedback; none: no store")
      ->capture_default_str();
  serve_cmd->add_option("--prediction-log", serve.prediction_log, "Log inferences (inputs and outputs) to the store")
      ->capture_default_str();
  serve_cmd->add_option("--log-sample-rate", serve.log.sample_rate, "Share of inference requests logged")
      ->check(CLI::Range(0.0, 1.0))->capture_default_str();
  serve_cmd->add_option("--log-queue-capacity", serve.log.queue_capacity,
                        "Requests waiting for the log's writer; beyond, records are dropped and counted")
      ->check(CLI::Range(1, 65534))->capture_default_str();
  serve_cmd->add_option("--log-retention-hours", serve.log_retention_hours, "Logged predictions older than this are deleted")
      ->check(CLI::Range(int64_t{1}, int64_t{24 * 365 * 100}))->capture_default_str();
  serve_cmd->add_option("--log-max-requests", serve.log.max_requests, "Logged requests kept at most (oldest deleted first); 0: no limit")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  serve_cmd->add_option("--log-max-windows", serve.log.max_windows,
                        "Closed monitoring windows kept at most in the store (oldest deleted first); 0: no limit")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  serve_cmd->add_option("--window-rows", serve.window_rows, "Monitoring window: rows per version before it closes")
      ->check(CLI::PositiveNumber)->capture_default_str();
  serve_cmd->add_option("--window-seconds", serve.window_seconds, "Monitoring window: seconds before it closes")
      ->check(CLI::PositiveNumber)->capture_default_str();
  serve_cmd->add_option("--alert-webhook", serve.alert_webhooks,
                        "Webhook URL told of alert transitions (repeatable); rules may name their own");
  serve_cmd->add_option("--alertmanager", serve.alertmanagers,
                        "Alertmanager base URL that receives alerts (repeatable), e.g. http://127.0.0.1:9093");
  serve_cmd->add_option("--alert-interval", serve.alert_interval_seconds,
                        "Seconds between evaluations of quality and serving alert rules")
      ->check(CLI::PositiveNumber)->capture_default_str();
  serve_cmd->add_option("--alert-resend", serve.alert_resend_seconds,
                        "Seconds between re-sends of firing alerts to Alertmanager")
      ->check(CLI::PositiveNumber)->capture_default_str();
  serve_cmd->add_option("--unloaded-metrics-seconds", serve.unloaded_metrics_seconds,
                        "Seconds an unloaded version's serving series stay on /metrics (so that scrapes see their final counts)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  serve_cmd->add_option("--external-url", serve.external_url,
                        "This server's URL as others reach it, for links in notifications");
  serve_cmd->add_option("--log-level", serve.log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))->capture_default_str();
  serve_cmd->add_option("--auth", serve.auth,
                        "API keys (vigil keys): on, off, or auto (on unless --host is loopback)")
      ->check(CLI::IsMember({"auto", "on", "off"}))->capture_default_str();
  serve_cmd->add_option("--open", serve.open_endpoints,
                        "Endpoints served without a key when authentication is on: health (always, unless none), metrics, or none")
      ->check(CLI::IsMember({"health", "metrics", "none"}))->capture_default_str();
  serve_cmd->add_option("--key-rate", serve.access.key_rate, "Requests per second per API key (429 beyond); 0: no limit")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  serve_cmd->add_option("--key-burst", serve.access.key_burst, "Burst per API key; 0: one second's worth")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  serve_cmd->add_option("--max-connections", serve.http.max_connections,
                        "Open connections at most (beyond, new ones get 503); 0: no limit")->capture_default_str();
  serve_cmd->add_option("--max-inflight", serve.http.max_inflight,
                        "Requests in progress at most, across connections (beyond, 503 at once); 0: no limit")
      ->capture_default_str();
  serve_cmd->add_option("--connection-rate", serve.http.connection_rate,
                        "Requests per second per connection (429 beyond); 0: no limit")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  serve_cmd->add_option("--connection-burst", serve.http.connection_burst,
                        "Burst per connection; 0: one second's worth")->check(CLI::NonNegativeNumber)->capture_default_str();
  serve_cmd->add_option("--model-key-file", serve.model_key_file,
                        "Key that opens encrypted artifacts, and encrypts those the registry stores (64 hex digits, "
                        "mode 600; default: VIGIL_MODEL_KEY_FILE or VIGIL_MODEL_KEY)")
      ->check(CLI::ExistingFile);
  serve_cmd->add_option("--tls-cert", serve.http.tls_cert_file, "PEM certificate chain: serve HTTPS")
      ->check(CLI::ExistingFile);
  serve_cmd->add_option("--tls-key", serve.http.tls_key_file, "PEM private key of --tls-cert")->check(CLI::ExistingFile);
  serve_cmd->add_option("--tls-client-ca", serve.http.tls_client_ca_file,
                        "PEM CA certificates: clients must present a certificate one of them signed (mutual TLS)")
      ->check(CLI::ExistingFile);

  TrainOptions train;
  std::string train_repository, train_data;
  CLI::App* train_cmd = app.add_subcommand("train", "Train an XGBoost binary classifier from a CSV file into a model repository.");
  train_cmd->add_option("--data", train_data, "CSV file with a header row")->required()->check(CLI::ExistingFile);
  train_cmd->add_option("--target", train.target, "Label column (two classes)")->capture_default_str();
  train_cmd->add_option("--positive-class", train.positive_class, "The class predicted as probability (default: the rarer one)");
  train_cmd->add_option("--repository", train_repository, "Model repository to write into")->required();
  train_cmd->add_option("--model", train.model_name, "Model name (directory under the repository)")->required();
  train_cmd->add_option("--version", train.version, "Version to write (default: next free)");
  train_cmd->add_option("--rounds", train.rounds, "Maximum boosting rounds")->capture_default_str();
  train_cmd->add_option("--early-stopping-rounds", train.early_stopping_rounds, "Stop after this many rounds without validation improvement")->capture_default_str();
  train_cmd->add_option("--max-depth", train.max_depth, "Tree depth")->capture_default_str();
  train_cmd->add_option("--learning-rate", train.learning_rate, "Shrinkage (eta)")->capture_default_str();
  train_cmd->add_option("--validation-fraction", train.validation_fraction, "Share of rows for early stopping")->capture_default_str();
  train_cmd->add_option("--test-fraction", train.test_fraction, "Share of rows held out for the final AUC")->capture_default_str();
  train_cmd->add_option("--seed", train.seed, "Seed for the split and for XGBoost's sampling")->capture_default_str();
  train_cmd->add_option("--nthread", train.nthread, "XGBoost training threads")->capture_default_str();
  std::string train_store, train_by = ActingUser();
  std::vector<std::string> train_aliases;
  train_cmd->add_option("--store", train_store, "Register the version in this store's registry (the server's --store)");
  train_cmd->add_option("--by", train_by, "Author recorded in the registry (default: $USER)");
  train_cmd->add_option("--alias", train_aliases, "With --store: point this alias at the new version (repeatable)");

  OptimizeOptions optimize;
  std::string optimize_repository, optimize_holdout;
  bool keep_all_iterations = false;
  CLI::App* optimize_cmd = app.add_subcommand(
      "optimize", "Prune a tree model (best iteration, then trees that cost less than a tolerance) into a new version, with a report.");
  optimize_cmd->add_option("--repository", optimize_repository, "Model repository")->required()->check(CLI::ExistingDirectory);
  optimize_cmd->add_option("--model", optimize.model_name, "Model name")->required();
  optimize_cmd->add_option("--version", optimize.version, "Version to optimise (default: the highest)");
  optimize_cmd->add_option("--holdout", optimize_holdout, "Labelled CSV to measure quality on")->required()->check(CLI::ExistingFile);
  optimize_cmd->add_option("--target", optimize.target, "Label column of the holdout")->capture_default_str();
  optimize_cmd->add_option("--drop-tolerance", optimize.drop_tolerance,
                           "Holdout AUC (or RMSE) that dropping trees may cost; 0 drops none")->capture_default_str();
  optimize_cmd->add_flag("--keep-all-iterations", keep_all_iterations, "Do not cut to the model's best iteration");
  optimize_cmd->add_option("--output-version", optimize.output_version, "Version to write (default: next free)");

  ProfileOptions profile;
  std::string profile_repository, profile_data;
  CLI::App* profile_cmd = app.add_subcommand(
      "profile", "Build a model version's reference profile (monitoring's baseline) from a CSV file into profile.json.");
  profile_cmd->add_option("--repository", profile_repository, "Model repository")->required()->check(CLI::ExistingDirectory);
  profile_cmd->add_option("--model", profile.model_name, "Model name")->required();
  profile_cmd->add_option("--version", profile.version, "Version to profile (default: the highest)");
  profile_cmd->add_option("--data", profile_data, "CSV with the model's feature columns (the training or a reference set)")
      ->required()->check(CLI::ExistingFile);
  profile_cmd->add_option("--bins", profile.bins, "Quantile bins per numeric feature")
      ->check(CLI::Range(2, 100))->capture_default_str();

  MonitorFlags monitor;
  CLI::App* monitor_cmd = app.add_subcommand(
      "monitor", "Print a model's drift (per window, against its versions' reference profiles) and quality from feedback, "
                 "read from the store.");
  monitor_cmd->add_option("--store", monitor.stores, "The server's store (its --store); repeat it for several replicas' stores, "
                                                     "reported on together")
      ->required()->check(CLI::ExistingFile);
  monitor_cmd->add_option("--repository", monitor.repository, "Model repository")->required()->check(CLI::ExistingDirectory);
  monitor_cmd->add_option("--model", monitor.model, "Model name")->required();
  monitor_cmd->add_option("--hours", monitor.hours, "The period: the last this many hours")
      ->check(CLI::Range(0.001, 24.0 * 365 * 100))->capture_default_str();
  monitor_cmd->add_option("--window-rows", monitor.window_rows, "Rows per window")->check(CLI::PositiveNumber)->capture_default_str();

  LogFlags log_flags;
  CLI::App* log_cmd = app.add_subcommand(
      "log", "Print a model's logged requests (inputs, outputs, feedback), oldest first, as JSON lines, read from the "
             "store.");
  log_cmd->add_option("--store", log_flags.store, "The server's store (its --store)")->required()->check(CLI::ExistingFile);
  log_cmd->add_option("--model", log_flags.model, "Model name")->required();
  log_cmd->add_option("--hours", log_flags.hours, "The period: the last this many hours")
      ->check(CLI::Range(0.001, 24.0 * 365 * 100))->capture_default_str();
  log_cmd->add_option("--limit", log_flags.limit, "Requests printed at most")->check(CLI::PositiveNumber)->capture_default_str();

  RegistryCommands registry_commands(app);
  SecurityCommands security_commands(app);

  CLI11_PARSE(app, argc, argv);
  // A model key given in the environment that does not work is an error, not
  // "no key": otherwise artifacts would be stored unencrypted without a word.
  if (auto key = ModelKeyFromEnvironment(); !key.ok()) {
    std::fprintf(stderr, "vigil: %s\n", key.status().message().c_str());
    return 2;
  } else {
    BackendRegistry::SetProcessArtifactKey(*key);  // Read once: every registry takes it from here.
  }
  if (int status = registry_commands.Run(); status >= 0) return status;
  if (int status = security_commands.Run(); status >= 0) return status;
  if (*monitor_cmd) return Monitor(monitor);
  if (*log_cmd) return Log(log_flags);
  if (*profile_cmd) {
    profile.repository = profile_repository;
    profile.data = profile_data;
    return Profile(profile);
  }
  if (*optimize_cmd) {
    optimize.repository = optimize_repository;
    optimize.holdout = optimize_holdout;
    optimize.prune_to_best_iteration = !keep_all_iterations;
    return Optimize(optimize);
  }
  if (*serve_cmd) return Serve(serve);
  if (*train_cmd) {
    train.repository = train_repository;
    train.data = train_data;
    if (!train_aliases.empty() && train_store.empty()) {
      std::fprintf(stderr, "vigil train: --alias needs --store (aliases live in the registry)\n");
      return 2;
    }
    return Train(train, train_store, train_by, train_aliases);
  }
  return 0;
}
