// The SQLite store on a real database file.
#include "store/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <tuple>

#include "common/request_id.h"
#include "testing/test_repository.h"

namespace vigil {
namespace {

// A request of `rows` rows: features [rows, 2] = 0, 1, 2, ...; outputs a
// probability and a label per row.
std::string Record(const std::string& id, bool client_id, int64_t rows, int64_t time_ms) {
  Tensor features("input", DataType::kFp32, {rows, 2});
  for (int64_t i = 0; i < rows * 2; ++i) features.values<float>()[i] = static_cast<float>(i);
  Tensor probability("probability", DataType::kFp32, {rows});
  Tensor label("label", DataType::kBytes, {rows});
  for (int64_t r = 0; r < rows; ++r) {
    probability.values<float>()[r] = 0.25f;
    label.strings()[r] = "good";
  }
  const std::vector<float> scores(rows, 0.25f);
  return EncodeLogRecord(id, client_id, time_ms, "champion", features, scores, {}, {probability, label});
}

struct Request {
  std::string id;
  int64_t rows;
  int64_t time_ms;
  bool client_id = true;
};

// A segment of `model` version 1 holding `requests`, as the log's writer
// builds it, with the bytes it points to.
struct OwnedSegment {
  std::string bytes;
  LogSegment meta;
  // The segment to append (its data points into `bytes`).
  LogSegment segment() const {
    LogSegment s = meta;
    s.data = bytes;
    return s;
  }
};
OwnedSegment Segment(const std::vector<Request>& requests, const std::string& model = "credit") {
  LogSchema schema;
  schema.features = {{"Age", false, {}}, {"Home", true, {"owner", "rent"}}};
  OwnedSegment out;
  LogSegmentBuilder builder(schema, &out.bytes);
  LogSegment& s = out.meta;
  s.model = model;
  s.version = 1;
  s.first_ms = requests.front().time_ms;
  for (const Request& r : requests) {
    if (r.client_id) s.client_ids.push_back({r.id, builder.records(), r.rows});
    builder.Add(Record(r.id, r.client_id, r.rows, r.time_ms));
    s.first_ms = std::min(s.first_ms, r.time_ms);
    s.last_ms = std::max(s.last_ms, r.time_ms);
    ++s.requests;
    s.rows += r.rows;
  }
  builder.Finish();
  return out;
}

TEST(SqliteStoreTest, LogsSegmentsAndJoinsFeedback) {
  testing::TempDir dir;
  auto store = SqliteStore::Open(dir.path() / "vigil.db");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  SqliteStore& s = **store;
  ASSERT_TRUE(s.AppendLogSegment(Segment({{"a", 2, 1000}, {"b", 1, 2000}}).segment()).ok());
  ASSERT_TRUE(s.AppendLogSegment(Segment({{"a", 1, 1000}}, "churn").segment()).ok());
  // An id the model already logged: both requests are in the log, the id
  // stays with the first, and the second is counted.
  auto ignored = s.AppendLogSegment(Segment({{"b", 1, 9999}, {"c", 1, 9999}}).segment());
  ASSERT_TRUE(ignored.ok());
  EXPECT_EQ(*ignored, 1);
  EXPECT_EQ(*s.CountPredictions("credit"), 4);
  EXPECT_EQ(*s.CountPredictions("churn"), 1);

  auto outcomes = s.RecordFeedback("credit", {{"a", 0, "\"bad\""}, {"a", 1, "\"good\""}, {"zzz", 0, "\"bad\""},
                                              {"a", 2, "\"bad\""}, {"b", 0, "\"bad\""}},
                                   5000);
  ASSERT_TRUE(outcomes.ok()) << outcomes.status().ToString();
  EXPECT_EQ(*outcomes,
            (std::vector<FeedbackOutcome>{FeedbackOutcome::kRecorded, FeedbackOutcome::kRecorded,
                                          FeedbackOutcome::kUnknownId, FeedbackOutcome::kUnknownId,
                                          FeedbackOutcome::kRecorded}));
  // Idempotent: the same label again changes nothing; a different one is a conflict.
  outcomes = s.RecordFeedback("credit", {{"a", 0, "\"bad\""}, {"a", 1, "\"bad\""}}, 6000);
  ASSERT_TRUE(outcomes.ok());
  EXPECT_EQ(*outcomes, (std::vector<FeedbackOutcome>{FeedbackOutcome::kDuplicate, FeedbackOutcome::kConflict}));
  // Feedback is per model: churn's "a" is another prediction.
  EXPECT_EQ(s.RecordFeedback("churn", {{"a", 0, "1"}}, 6000)->at(0), FeedbackOutcome::kRecorded);

  auto labeled = s.LabeledPredictions("credit", 0, 100000, 100);
  ASSERT_TRUE(labeled.ok()) << labeled.status().ToString();
  ASSERT_EQ(labeled->size(), 3u);
  const LabeledPrediction& a0 = (*labeled)[0];
  EXPECT_EQ(a0.prediction->request_id, "a");
  EXPECT_EQ(a0.row, 0);
  EXPECT_EQ(a0.label, "\"bad\"");
  EXPECT_EQ((*labeled)[1].row, 1);
  EXPECT_EQ((*labeled)[1].prediction, a0.prediction);  // One decoded request for its labelled rows.
  EXPECT_EQ((*labeled)[1].prediction->rows, 2);
  EXPECT_EQ((*labeled)[1].label, "\"good\"");  // The first label stands.
  EXPECT_EQ((*labeled)[1].feedback_time_ms, 5000);
  EXPECT_EQ((*labeled)[2].prediction->time_ms, 2000);  // "b" labels the first "b".

  auto window = s.Predictions("credit", 1500, 2500, 100);
  ASSERT_TRUE(window.ok());
  ASSERT_EQ(window->size(), 1u);
  const StoredPrediction& b = (*window)[0];
  EXPECT_EQ(b.request_id, "b");
  EXPECT_TRUE(b.client_id);
  EXPECT_EQ(b.time_ms, 2000);
  EXPECT_EQ(b.model, "credit");
  EXPECT_EQ(b.route, "champion");
  ASSERT_EQ(b.schema->features.size(), 2u);
  EXPECT_EQ(b.schema->features[1].categories, (std::vector<std::string>{"owner", "rent"}));
  ASSERT_EQ(b.features.shape(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(b.features.values<float>()[1], 1.0f);
  EXPECT_EQ(b.scores, std::vector<float>{0.25f});
  ASSERT_EQ(b.outputs.size(), 2u);
  EXPECT_EQ(b.outputs[1].strings(), std::vector<std::string>{"good"});
}

TEST(SqliteStoreTest, FindsVigilsOwnIdsByTheirTime) {
  testing::TempDir dir;
  auto store = SqliteStore::Open(dir.path() / "vigil.db");
  ASSERT_TRUE(store.ok());
  SqliteStore& s = **store;
  constexpr int64_t t = 1'800'000'000'000;
  const std::string a = NewRequestId(t), b = NewRequestId(t), c = NewRequestId(t - 59'000), d = NewRequestId(t + 1);
  // The second segment starts almost a segment's span before d's time.
  ASSERT_TRUE(s.AppendLogSegment(Segment({{a, 1, t, false}, {b, 1, t, false}}).segment()).ok());
  ASSERT_TRUE(s.AppendLogSegment(Segment({{c, 1, t - 59'000, false}, {d, 1, t + 1, false}}).segment()).ok());
  auto outcomes = s.RecordFeedback("credit",
                                   {{b, 0, "1"},
                                    {d, 0, "1"},
                                    {c, 0, "1"},
                                    {NewRequestId(t), 0, "1"},  // Never logged.
                                    {a, 1, "1"},                // No row 1.
                                    {a.substr(1), 0, "1"}},     // Not an id at all.
                                   t + 10);
  ASSERT_TRUE(outcomes.ok()) << outcomes.status().ToString();
  EXPECT_EQ(*outcomes, (std::vector<FeedbackOutcome>{FeedbackOutcome::kRecorded, FeedbackOutcome::kRecorded,
                                                     FeedbackOutcome::kRecorded, FeedbackOutcome::kUnknownId,
                                                     FeedbackOutcome::kUnknownId, FeedbackOutcome::kUnknownId}));
  auto labeled = s.LabeledPredictions("credit", t - 60'000, t + 2, 100);
  ASSERT_TRUE(labeled.ok());
  ASSERT_EQ(labeled->size(), 3u);
  EXPECT_EQ((*labeled)[0].prediction->request_id, b);
  EXPECT_FALSE((*labeled)[0].prediction->client_id);
}

TEST(SqliteStoreTest, RetentionDeletesOldAndExcessSegmentsWithTheirFeedbackAndIds) {
  testing::TempDir dir;
  auto store = SqliteStore::Open(dir.path() / "vigil.db");
  ASSERT_TRUE(store.ok());
  SqliteStore& s = **store;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(s.AppendLogSegment(Segment({{"r" + std::to_string(i), 1, 1000 * i}}).segment()).ok());
  }
  ASSERT_TRUE(s.RecordFeedback("credit", {{"r1", 0, "1"}, {"r5", 0, "0"}}, 20000).ok());
  // Older than 3000 ms: r0, r1, r2; then beyond 4 requests: r3, r4, r5.
  auto deleted = s.PrunePredictions(3000, 4, 0);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 6);
  EXPECT_EQ(*s.CountPredictions("credit"), 4);
  EXPECT_EQ(s.LabeledPredictions("credit", 0, 100000, 100)->size(), 0u);
  EXPECT_EQ(s.Predictions("credit", 0, 100000, 100)->front().request_id, "r6");
  // Their ids went with them: "r1" is new again.
  EXPECT_EQ(*s.AppendLogSegment(Segment({{"r1", 1, 50000}}).segment()), 0);
}

// Windows are kept by age and, newest first, up to a count.
TEST(SqliteStoreTest, RetentionKeepsTheNewestWindowsUpToTheLimit) {
  testing::TempDir dir;
  auto store = SqliteStore::Open(dir.path() / "vigil.db");
  ASSERT_TRUE(store.ok());
  std::vector<StoredWindow> windows;
  for (int i = 0; i < 10; ++i) windows.push_back({"credit", 1, 1000 * i, 1000 * i + 999, "a:1", "{}"});
  ASSERT_TRUE((*store)->AppendWindows(windows).ok());
  ASSERT_TRUE((*store)->PrunePredictions(0, 0, 0).ok());
  EXPECT_EQ((*store)->Windows("credit", 1, 100)->size(), 10u) << "no limit";
  ASSERT_TRUE((*store)->PrunePredictions(0, 0, 4).ok());
  auto kept = (*store)->Windows("credit", 1, 100);
  ASSERT_EQ(kept->size(), 4u);
  EXPECT_EQ(kept->front().start_ms, 6000);
  // By age first: those that ended before 8,000 ms go too.
  ASSERT_TRUE((*store)->PrunePredictions(8000, 0, 4).ok());
  EXPECT_EQ((*store)->Windows("credit", 1, 100)->size(), 2u);
}

// Retention deletes below a segment id it computed first: a segment that
// arrives after the log was emptied must get a higher id, not a reused one.
TEST(SqliteStoreTest, SegmentIdsAreNeverReused) {
  testing::TempDir dir;
  const auto path = dir.path() / "vigil.db";
  auto store = SqliteStore::Open(path);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->AppendLogSegment(Segment({{"old", 1, 1}}).segment()).ok());
  ASSERT_EQ(*(*store)->PrunePredictions(10, 0, 0), 1);
  ASSERT_TRUE((*store)->AppendLogSegment(Segment({{"new", 1, 100}}).segment()).ok());
  sqlite3* db;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* q;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT id FROM log_segments", -1, &q, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int64(q, 0), 2);
  sqlite3_finalize(q);
  sqlite3_close(db);
}

int64_t SegmentFileCount(const std::filesystem::path& db) {
  const auto dir = db.string() + "-log";
  if (!std::filesystem::exists(dir)) return 0;
  return std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator());
}

// Each store instance writes its own file; retention deletes a file once no
// segment refers to it, and never the one being written.
TEST(SqliteStoreTest, RetentionDeletesTheSegmentFilesNoSegmentRefersTo) {
  testing::TempDir dir;
  const auto path = dir.path() / "vigil.db";
  for (int i = 0; i < 3; ++i) {
    auto store = SqliteStore::Open(path);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->AppendLogSegment(Segment({{"r" + std::to_string(i), 1, 1000 * i}}).segment()).ok());
  }
  EXPECT_EQ(SegmentFileCount(path), 3);
  auto store = SqliteStore::Open(path);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->AppendLogSegment(Segment({{"r3", 1, 3000}}).segment()).ok());
  ASSERT_EQ(*(*store)->PrunePredictions(1500, 0, 0), 2);
  EXPECT_EQ(SegmentFileCount(path), 2);
  EXPECT_EQ((*store)->Predictions("credit", 0, 10000, 10)->front().request_id, "r2");
  ASSERT_EQ(*(*store)->PrunePredictions(100000, 0, 0), 2);
  EXPECT_EQ(SegmentFileCount(path), 1) << "the file being written was deleted";
  ASSERT_TRUE((*store)->AppendLogSegment(Segment({{"r4", 1, 4000}}).segment()).ok());
  EXPECT_EQ((*store)->Predictions("credit", 0, 10000, 10)->front().request_id, "r4");
  store->reset();
  // Nothing is being written and no segment is left: no file is either.
  store = SqliteStore::Open(path);
  ASSERT_TRUE(store.ok());
  ASSERT_EQ(*(*store)->PrunePredictions(100000, 0, 0), 1);
  EXPECT_EQ(SegmentFileCount(path), 0);
}

// A segment whose bytes were damaged (a crash of the machine before they
// reached the disk) is skipped by every reader; the rest stays readable.
TEST(SqliteStoreTest, SkipsASegmentWhoseBytesAreDamaged) {
  testing::TempDir dir;
  const auto path = dir.path() / "vigil.db";
  auto store = SqliteStore::Open(path);
  ASSERT_TRUE(store.ok());
  SqliteStore& s = **store;
  ASSERT_TRUE(s.AppendLogSegment(Segment({{"lost", 1, 10}}).segment()).ok());
  ASSERT_TRUE(s.AppendLogSegment(Segment({{"kept", 1, 20}}).segment()).ok());
  ASSERT_TRUE(s.RecordFeedback("credit", {{"lost", 0, "1"}, {"kept", 0, "1"}}, 30).ok());
  {
    std::fstream f(path.string() + "-log/1.vlog", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(20);
    f.put('\xff');
  }
  auto predictions = s.Predictions("credit", 0, 100, 10);
  ASSERT_TRUE(predictions.ok()) << predictions.status().ToString();
  ASSERT_EQ(predictions->size(), 1u);
  EXPECT_EQ(predictions->front().request_id, "kept");
  auto labeled = s.LabeledPredictions("credit", 0, 100, 10);
  ASSERT_TRUE(labeled.ok());
  ASSERT_EQ(labeled->size(), 1u);
  EXPECT_EQ(labeled->front().prediction->request_id, "kept");
}

// Schema 3 kept a segment's bytes in its row; upgraded, such rows are read
// as before, beside segments in files.
TEST(SqliteStoreTest, ReadsSegmentsStoredInTheDatabaseBySchema3) {
  testing::TempDir dir;
  const auto path = dir.path() / "vigil.db";
  auto store = SqliteStore::Open(path);
  ASSERT_TRUE(store.ok());
  const OwnedSegment old = Segment({{"in-row", 2, 10}});
  sqlite3* db;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* q;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "INSERT INTO log_segments (model, version, first_ms, last_ms, requests, rows, total, "
                               "data) VALUES ('credit', 1, 10, 10, 1, 2, 1, ?)",
                               -1, &q, nullptr),
            SQLITE_OK);
  sqlite3_bind_blob(q, 1, old.bytes.data(), static_cast<int>(old.bytes.size()), SQLITE_STATIC);
  ASSERT_EQ(sqlite3_step(q), SQLITE_DONE);
  sqlite3_finalize(q);
  sqlite3_close(db);
  ASSERT_TRUE((*store)->AppendLogSegment(Segment({{"in-file", 1, 20}}).segment()).ok());
  auto outcomes = (*store)->RecordFeedback("credit", {{"in-row", 1, "1"}}, 30);
  ASSERT_TRUE(outcomes.ok());
  auto predictions = (*store)->Predictions("credit", 0, 100, 10);
  ASSERT_TRUE(predictions.ok());
  ASSERT_EQ(predictions->size(), 2u);
  EXPECT_EQ((*predictions)[0].request_id, "in-row");
  EXPECT_EQ((*predictions)[0].rows, 2);
  EXPECT_EQ((*predictions)[1].request_id, "in-file");
  // Its client id was never indexed (the row was inserted by hand), so it is
  // found only by reading: feedback says unknown, the log still has it.
  EXPECT_EQ(outcomes->at(0), FeedbackOutcome::kUnknownId);
}

TEST(SqliteStoreTest, RetentionKeepsASegmentUntilAllOfItIsPastTheAge) {
  testing::TempDir dir;
  auto store = SqliteStore::Open(dir.path() / "vigil.db");
  ASSERT_TRUE(store.ok());
  std::vector<Request> requests;
  for (int i = 0; i < 25000; ++i) requests.push_back({"r" + std::to_string(i), 1, i});
  for (int k = 0; k < 25; ++k) {
    const std::vector<Request> part(requests.begin() + 1000 * k, requests.begin() + 1000 * (k + 1));
    ASSERT_TRUE((*store)->AppendLogSegment(Segment(part).segment()).ok());
  }
  // 22 segments end before 22,000 ms: several chunks; the 23rd straddles 22,500.
  auto deleted = (*store)->PrunePredictions(22500, 0, 0);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 22000);
  EXPECT_EQ(*(*store)->CountPredictions("credit"), 3000);
  EXPECT_EQ((*store)->Predictions("credit", 0, 100000, 1)->front().request_id, "r22000");
  EXPECT_EQ((*store)->Predictions("credit", 22500, 100000, 1)->front().request_id, "r22500");
}

TEST(SqliteStoreTest, SurvivesReopeningAndRefusesANewerSchema) {
  testing::TempDir dir;
  const auto path = dir.path() / "vigil.db";
  {
    auto store = SqliteStore::Open(path);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->AppendLogSegment(Segment({{"kept", 1, 1}}).segment()).ok());
  }
  {
    auto store = SqliteStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    EXPECT_EQ(*(*store)->CountPredictions("credit"), 1);
  }
  sqlite3* db;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto newer = SqliteStore::Open(path);
  ASSERT_FALSE(newer.ok());
  EXPECT_NE(newer.status().message().find("schema version 99 is newer"), std::string::npos) << newer.status().message();

  testing::WriteFile(dir.path() / "not.db", "this is not a database, just text long enough to have a header......");
  EXPECT_FALSE(SqliteStore::Open(dir.path() / "not.db").ok());
}

TEST(SqliteStoreTest, UpgradingFromSchema1KeepsTheOldLogAndItsFeedback) {
  testing::TempDir dir;
  const auto path = dir.path() / "vigil.db";
  sqlite3* db;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "CREATE TABLE predictions (id INTEGER PRIMARY KEY, model TEXT NOT NULL, request_id TEXT NOT "
                         "NULL, version INTEGER NOT NULL, time_ms INTEGER NOT NULL, route TEXT NOT NULL, rows INTEGER "
                         "NOT NULL, inputs TEXT NOT NULL, outputs TEXT NOT NULL, UNIQUE (model, request_id));"
                         "CREATE TABLE feedback (prediction INTEGER NOT NULL REFERENCES predictions (id) ON DELETE "
                         "CASCADE, row INTEGER NOT NULL, label TEXT NOT NULL, time_ms INTEGER NOT NULL, PRIMARY KEY "
                         "(prediction, row)) WITHOUT ROWID;"
                         "INSERT INTO predictions VALUES (1, 'credit', 'old', 1, 5, 'champion', 1, '{}', '{}');"
                         "INSERT INTO feedback VALUES (1, 0, '\"bad\"', 6);"
                         "PRAGMA user_version = 1;",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  {
    auto store = SqliteStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    EXPECT_EQ(*(*store)->CountPredictions("credit"), 0);
    ASSERT_TRUE((*store)->AppendLogSegment(Segment({{"new", 1, 10}}).segment()).ok());
    EXPECT_EQ((*store)->RecordFeedback("credit", {{"new", 0, "\"good\""}}, 11)->at(0), FeedbackOutcome::kRecorded);
  }
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* q;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "SELECT p.request_id, f.label, (SELECT user_version FROM pragma_user_version) FROM "
                               "predictions_v1 p JOIN feedback_v1 f ON f.prediction = p.id",
                               -1, &q, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(q, 0)), "old");
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(q, 1)), "\"bad\"");
  EXPECT_EQ(sqlite3_column_int(q, 2), SqliteStore::kSchemaVersion);
  sqlite3_finalize(q);
  sqlite3_close(db);
}

}  // namespace
}  // namespace vigil
