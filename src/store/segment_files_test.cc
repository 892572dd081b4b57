// Segment files on a real directory.
#include "store/segment_files.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "testing/test_repository.h"

namespace vigil {
namespace {

std::set<std::string> Names(const std::filesystem::path& dir) {
  std::set<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

TEST(SegmentFilesTest, AppendsReadsBackAndStartsANewFileWhenFull) {
  testing::TempDir dir;
  SegmentFiles files(dir.path() / "log", 100);
  EXPECT_FALSE(files.writing());
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "log")) << "created before anything was written";
  const std::string a(60, 'a'), b(60, 'b'), c(30, 'c');
  auto at_a = files.Append(a, 0), at_b = files.Append(b, 0), at_c = files.Append(c, 0);
  ASSERT_TRUE(at_a.ok() && at_b.ok() && at_c.ok()) << at_a.status().ToString();
  EXPECT_EQ(at_a->file, 1);
  EXPECT_EQ(at_b->file, 2);  // 60 + 60 > 100.
  EXPECT_EQ(at_b->offset, 0);
  EXPECT_EQ(at_c->file, 2);
  EXPECT_EQ(at_c->offset, 60);
  EXPECT_EQ(at_c->length, 30);
  EXPECT_EQ(*files.Read(*at_a), a);
  EXPECT_EQ(*files.Read(*at_b), b);
  EXPECT_EQ(*files.Read(*at_c), c);
  // A segment longer than a file's limit gets a file to itself.
  auto big = files.Append(std::string(500, 'x'), 0);
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->file, 3);
  EXPECT_EQ(big->offset, 0);
  EXPECT_EQ(Names(dir.path() / "log"), (std::set<std::string>{"1.vlog", "2.vlog", "3.vlog"}));
}

// A file is only appended to by the instance that created it, so bytes an
// earlier process wrote but never committed stay unreferenced; a new file
// is numbered above the files present and above what the database refers to.
TEST(SegmentFilesTest, ANewWriterStartsAFileAboveEveryOther) {
  testing::TempDir dir;
  {
    SegmentFiles first(dir.path());
    ASSERT_EQ(first.Append("one", 0)->file, 1);
  }
  SegmentFiles second(dir.path());
  EXPECT_EQ(second.Append("two", 0)->file, 2);
  SegmentFiles third(dir.path());
  EXPECT_EQ(third.Append("three", 7)->file, 8);
  std::ifstream in(dir.path() / "1.vlog");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "one");
}

TEST(SegmentFilesTest, RefusesDamagedShortAndMissingBytes) {
  testing::TempDir dir;
  SegmentFiles files(dir.path());
  auto at = files.Append("segment bytes", 0);
  ASSERT_TRUE(at.ok());
  ASSERT_TRUE(files.Sync().ok());
  const auto path = dir.path() / "1.vlog";
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(3);
    f.put('X');
  }
  auto damaged = files.Read(*at);
  ASSERT_FALSE(damaged.ok());
  EXPECT_NE(damaged.status().message().find("checksum mismatch"), std::string::npos) << damaged.status().message();
  std::filesystem::resize_file(path, 5);
  auto short_read = files.Read(*at);
  ASSERT_FALSE(short_read.ok());
  EXPECT_NE(short_read.status().message().find("5 of 13 bytes"), std::string::npos) << short_read.status().message();
  std::filesystem::remove(path);
  EXPECT_EQ(files.Read(*at).status().code(), StatusCode::kNotFound);
}

TEST(SegmentFilesTest, RemovesFilesBelowANumberButNeverTheOneBeingWritten) {
  testing::TempDir dir;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(SegmentFiles(dir.path()).Append("x", 0).ok());
  testing::WriteFile(dir.path() / "notes.txt", "not a segment file");
  SegmentFiles files(dir.path());
  ASSERT_EQ(files.Append("current", 0)->file, 4);
  EXPECT_EQ(files.RemoveBelow(3), 2);
  EXPECT_EQ(Names(dir.path()), (std::set<std::string>{"3.vlog", "4.vlog", "notes.txt"}));
  EXPECT_EQ(files.RemoveBelow(INT64_MAX), 1);
  EXPECT_EQ(Names(dir.path()), (std::set<std::string>{"4.vlog", "notes.txt"}));
}

}  // namespace
}  // namespace vigil
