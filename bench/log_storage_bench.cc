// Where the prediction log's segment bytes should live: the store as it is
// (SqliteStore: bytes appended to a segment file, a row with their location,
// retention deleting rows and whole files) against the reference, the same
// bytes as a BLOB column of a SQLite table in WAL mode (schema 3's layout),
// with retention deleting its oldest rows. Both run the same sequence:
// append a segment per transaction, and every `prune_every` segments (64)
// delete the ones beyond the newest `keep` (200).
//
//   build/log_storage_bench [--markdown FILE] [--segments N] [--kib K] [--keep N] [--prune-every N]
//                           [--rounds R]
//
// Measures the CPU time of the calling thread (user + system: the write
// system calls are most of it), per KiB appended, over `rounds` interleaved
// rounds, and prints the medians and their ratio; --markdown appends the
// table to FILE. The kernel's own write-back of dirty pages is not counted,
// on either side (SQLite writes each byte twice, to the WAL and at the
// checkpoint, so the ratio understates its cost).
#include <sqlite3.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "bench_report.h"
#include "store/sqlite_store.h"
#include "testing/test_repository.h"

namespace vigil {
namespace {

double ThreadCpuSeconds() {
  rusage u;
  getrusage(RUSAGE_THREAD, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

struct Options {
  int segments = 1500;
  int kib = 512;
  int keep = 200;
  int prune_every = 64;
  int rounds = 3;
  std::string markdown;
};

void Check(int rc, sqlite3* db, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    std::fprintf(stderr, "log_storage_bench: %s: %s\n", what, sqlite3_errmsg(db));
    std::exit(1);
  }
}

// The reference: bytes in a BLOB column, WAL, synchronous=NORMAL (the log's
// connection's settings).
double BlobInSqlite(const Options& o, const std::string& bytes, const std::filesystem::path& dir) {
  sqlite3* db;
  Check(sqlite3_open((dir / "blob.db").c_str(), &db), nullptr, "open");
  auto exec = [&](const char* sql) { Check(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), db, sql); };
  exec("PRAGMA journal_mode = WAL");
  exec("PRAGMA synchronous = NORMAL");
  exec("PRAGMA cache_size = -16384");
  exec("CREATE TABLE log_segments (id INTEGER PRIMARY KEY AUTOINCREMENT, first_ms INTEGER, data BLOB)");
  sqlite3_stmt *insert, *prune;
  Check(sqlite3_prepare_v2(db, "INSERT INTO log_segments (first_ms, data) VALUES (?, ?)", -1, &insert, nullptr), db,
        "prepare");
  Check(sqlite3_prepare_v2(db, "DELETE FROM log_segments WHERE id <= ?", -1, &prune, nullptr), db, "prepare");
  const double start = ThreadCpuSeconds();
  for (int i = 1; i <= o.segments; ++i) {
    exec("BEGIN");
    sqlite3_bind_int64(insert, 1, i);
    sqlite3_bind_blob(insert, 2, bytes.data(), static_cast<int>(bytes.size()), SQLITE_STATIC);
    Check(sqlite3_step(insert), db, "insert");
    sqlite3_reset(insert);
    exec("COMMIT");
    if (i % o.prune_every == 0 && i > o.keep) {
      exec("BEGIN");
      sqlite3_bind_int64(prune, 1, i - o.keep);
      Check(sqlite3_step(prune), db, "delete");
      sqlite3_reset(prune);
      exec("COMMIT");
    }
  }
  const double seconds = ThreadCpuSeconds() - start;
  sqlite3_finalize(insert);
  sqlite3_finalize(prune);
  sqlite3_close(db);
  return seconds;
}

// Vigil's store: SqliteStore::AppendLogSegment and PrunePredictions.
double SegmentFilesStore(const Options& o, const std::string& bytes, const std::filesystem::path& dir) {
  auto store = SqliteStore::Open(dir / "vigil.db");
  if (!store.ok()) {
    std::fprintf(stderr, "log_storage_bench: %s\n", store.status().ToString().c_str());
    std::exit(1);
  }
  LogSegment segment;
  segment.model = "credit";
  segment.version = 1;
  segment.requests = 1;
  segment.rows = 64;
  segment.data = bytes;
  const double start = ThreadCpuSeconds();
  for (int i = 1; i <= o.segments; ++i) {
    segment.first_ms = segment.last_ms = i;
    if (auto r = (*store)->AppendLogSegment(segment); !r.ok()) {
      std::fprintf(stderr, "log_storage_bench: %s\n", r.status().ToString().c_str());
      std::exit(1);
    }
    // Each segment counts as one request: the count limit keeps `keep`.
    if (i % o.prune_every == 0 && i > o.keep) (void)(*store)->PrunePredictions(0, o.keep, 0);
  }
  return ThreadCpuSeconds() - start;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int Main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "log_storage_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--markdown") o.markdown = next();
    else if (a == "--segments") o.segments = std::stoi(next());
    else if (a == "--kib") o.kib = std::stoi(next());
    else if (a == "--keep") o.keep = std::stoi(next());
    else if (a == "--rounds") o.rounds = std::stoi(next());
    else if (a == "--prune-every") o.prune_every = std::max(1, std::stoi(next()));
    else {
      std::fprintf(stderr,
                   "usage: log_storage_bench [--markdown FILE] [--segments N] [--kib K] [--keep N] [--prune-every N] "
                   "[--rounds R]\n");
      return 2;
    }
  }
  // Incompressible bytes: neither side compresses, and the content is opaque to both.
  std::string bytes(static_cast<size_t>(o.kib) * 1024, '\0');
  std::mt19937_64 rng(1);
  for (char& c : bytes) c = static_cast<char>(rng());
  const double kib = static_cast<double>(o.segments) * o.kib;
  std::vector<double> blob, files, ratios;
  for (int round = 0; round < o.rounds; ++round) {
    // Alternating which goes first, each in a fresh directory.
    double b = 0, f = 0;
    for (int k = 0; k < 2; ++k) {
      testing::TempDir dir;
      if ((round + k) % 2 == 0) {
        b = BlobInSqlite(o, bytes, dir.path()) * 1e6 / kib;
      } else {
        f = SegmentFilesStore(o, bytes, dir.path()) * 1e6 / kib;
      }
    }
    blob.push_back(b);
    files.push_back(f);
    ratios.push_back(b / f);
    std::fprintf(stderr, "round %d: SQLite blob %.3f us/KiB, segment files %.3f us/KiB\n", round + 1, b, f);
  }
  char table[1024];
  std::snprintf(table, sizeof table,
                "| storage of the log's segment bytes | CPU µs per KiB appended (median of %d) |\n"
                "|---|---:|\n"
                "| SQLite BLOB column, WAL (schema 3, the reference) | %.3f |\n"
                "| segment files + a row per segment (SqliteStore) | %.3f |\n\n"
                "SQLite blob / segment files: **%.1fx** (median of the rounds' ratios); %d segments of %d KiB, "
                "retention every %d segments keeping the newest %d.\n",
                o.rounds, Median(blob), Median(files), Median(ratios), o.segments, o.kib, o.prune_every, o.keep);
  std::fputs(table, stdout);
  if (!o.markdown.empty()) {
    AppendResultsSection(o.markdown, "the prediction log's segment bytes, SQLite BLOB vs segment files", argc, argv,
                         std::string("CPU time of the appending thread (user + system, getrusage), which includes "
                                     "the write system calls; the kernel's write-back of dirty pages is not counted "
                                     "on either side (SQLite writes each byte twice, so the ratio understates its "
                                     "cost). Rounds alternate which side runs first, each in a fresh directory on "
                                     "the same disk.\n\n") +
                             table);
  }
  return 0;
}

}  // namespace
}  // namespace vigil

int main(int argc, char** argv) { return vigil::Main(argc, argv); }
