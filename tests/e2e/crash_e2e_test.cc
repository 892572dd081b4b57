// Crash safety: the real server takes feedback, alias moves and silences at
// full speed and is killed with SIGKILL at a random moment, several times
// over the same store. After each kill the store must hold every write the
// server acknowledged, pass SQLite's integrity check, and serve again.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "e2e/http_client.h"
#include "e2e/server_process.h"
#include "store/sqlite_store.h"
#include "testing/test_repository.h"

namespace vigil::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string Row(const std::string& id) {
  return R"({"id":")" + id +
         R"(","inputs":[{"name":"input","datatype":"FP32","shape":[1,13],"data":[9,5,60,30,1,0,1,73,129,0,0,800,846]}]})";
}

// What the server acknowledged, by kind.
struct Acknowledged {
  std::mutex mu;
  std::set<std::string> feedback;  // Request ids whose label was "recorded".
  std::set<std::string> aliases;   // Aliases set to version 1.
  std::set<int64_t> silences;      // Silence ids.
};

std::string IntegrityCheck(const fs::path& db) {
  sqlite3* handle = nullptr;
  std::string result = "cannot open";
  if (sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* q = nullptr;
    if (sqlite3_prepare_v2(handle, "PRAGMA integrity_check", -1, &q, nullptr) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW) {
      result = reinterpret_cast<const char*>(sqlite3_column_text(q, 0));
    }
    sqlite3_finalize(q);
  }
  sqlite3_close(handle);
  return result;
}

TEST(CrashE2eTest, EveryAcknowledgedWriteSurvivesSigkill) {
  TempDir repo, data;
  TrainCreditModel(repo.path(), "credit", 1);
  const fs::path db = data.path() / "vigil.db";
  Acknowledged acked;
  std::mt19937 rng(20261129);
  constexpr int kRounds = 5;
  int64_t total_feedback = 0, total_aliases = 0, total_silences = 0;
  for (int round = 0; round < kRounds; ++round) {
    ServerProcess server({"--repository", repo.path().string(), "--store", db.string()});
    ASSERT_TRUE(server.Start()) << server.Output();
    const int port = server.port();
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    // Feedback: infer, then label the answer.
    for (int w = 0; w < 2; ++w) {
      writers.emplace_back([&, w] {
        HttpClient c(port);
        for (int n = 0; !stop; ++n) {
          const std::string id = "r" + std::to_string(round) + "-w" + std::to_string(w) + "-" + std::to_string(n);
          if (c.Post("/v2/models/credit/infer", Row(id)).status != 200) continue;
          auto r = c.Post("/v2/models/credit/feedback", R"([{"id":")" + id + R"(","label":1}])");
          if (r.status != 200) continue;
          auto doc = json::parse(r.body, nullptr, false);
          if (doc.is_object() && doc["results"][0].value("outcome", "") == "recorded") {
            std::lock_guard lock(acked.mu);
            acked.feedback.insert(id);
          }
        }
      });
    }
    // Registry changes and silences.
    writers.emplace_back([&] {
      HttpClient c(port);
      for (int n = 0; !stop; ++n) {
        const std::string alias = "r" + std::to_string(round) + "a" + std::to_string(n);
        if (c.Put("/api/models/credit/aliases/" + alias, R"({"version":1,"by":"crash-test"})").status == 200) {
          std::lock_guard lock(acked.mu);
          acked.aliases.insert(alias);
        }
        auto s = c.Post("/api/silences", R"({"matchers":[{"name":"feature","value":"f)" + std::to_string(n) +
                                             R"(","isRegex":false}],"duration":"1h","createdBy":"crash-test"})");
        auto doc = json::parse(s.body, nullptr, false);
        if (s.status == 200 && doc.is_object()) {
          std::lock_guard lock(acked.mu);
          acked.silences.insert(doc["silenceID"].get<int64_t>());
        }
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(300, 1500)(rng)));
    EXPECT_EQ(server.Stop(SIGKILL), 128 + SIGKILL);
    stop = true;
    for (auto& t : writers) t.join();

    // Everything acknowledged is there, in a consistent file.
    EXPECT_EQ(IntegrityCheck(db), "ok");
    auto store = SqliteStore::Open(db);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto labeled = (*store)->LabeledPredictions("credit", 0, std::numeric_limits<int64_t>::max(), 10000000);
    ASSERT_TRUE(labeled.ok());
    std::set<std::string> labeled_ids;
    for (const LabeledPrediction& l : *labeled) labeled_ids.insert(l.prediction->request_id);
    auto aliases = (*store)->Aliases("credit");
    ASSERT_TRUE(aliases.ok());
    std::set<std::string> alias_names;
    for (const AliasRecord& a : *aliases) alias_names.insert(a.alias);
    auto silences = (*store)->Silences(0);
    ASSERT_TRUE(silences.ok());
    std::set<int64_t> silence_ids;
    for (const Silence& s : *silences) silence_ids.insert(s.id);
    std::lock_guard lock(acked.mu);
    int missing = 0;
    for (const std::string& id : acked.feedback) missing += labeled_ids.count(id) ? 0 : 1;
    for (const std::string& a : acked.aliases) missing += alias_names.count(a) ? 0 : 1;
    for (int64_t id : acked.silences) missing += silence_ids.count(id) ? 0 : 1;
    EXPECT_EQ(missing, 0) << "round " << round;
    std::printf("round %d: killed; %zu feedback labels, %zu aliases, %zu silences acknowledged so far, %d missing\n",
                round, acked.feedback.size(), acked.aliases.size(), acked.silences.size(), missing);
    total_feedback = static_cast<int64_t>(acked.feedback.size());
    total_aliases = static_cast<int64_t>(acked.aliases.size());
    total_silences = static_cast<int64_t>(acked.silences.size());
  }
  EXPECT_GT(total_feedback, 50);
  EXPECT_GT(total_aliases, 10);
  EXPECT_GT(total_silences, 10);
  // And it serves again on the same store.
  ServerProcess server({"--repository", repo.path().string(), "--store", db.string()});
  ASSERT_TRUE(server.Start()) << server.Output();
  HttpClient c(server.port());
  EXPECT_EQ(c.Post("/v2/models/credit/infer", Row("after")).status, 200);
  EXPECT_EQ(server.Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace vigil::testing
