#include "common/durable_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <iterator>

#include "testing/test_repository.h"

namespace vigil {
namespace {

std::string Read(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

mode_t Mode(const std::filesystem::path& p) {
  struct stat st {};
  ::stat(p.c_str(), &st);
  return st.st_mode & 0777;
}

TEST(DurableFileTest, ANewFileIsNeverWrittenOverAnother) {
  testing::TempDir dir;
  const auto path = dir.path() / "key";
  ASSERT_TRUE(WriteNewFile(path, "secret\n", 0600).ok());
  EXPECT_EQ(Read(path), "secret\n");
  EXPECT_EQ(Mode(path), 0600u);
  const Status again = WriteNewFile(path, "other", 0600);
  EXPECT_FALSE(again.ok());
  EXPECT_NE(again.message().find("cannot create"), std::string::npos) << again.message();
  EXPECT_EQ(Read(path), "secret\n");
}

TEST(DurableFileTest, AReplacedFileHasItsNewContentAndModeAndNoLeftovers) {
  testing::TempDir dir;
  const auto path = dir.path() / "model.json";
  std::ofstream(path) << "plain";
  std::ofstream(dir.path() / "model.json.tmp") << "left by a crash";
  ASSERT_TRUE(ReplaceFile(path, std::string(100000, 'x'), 0600).ok());
  EXPECT_EQ(Read(path), std::string(100000, 'x'));
  EXPECT_EQ(Mode(path), 0600u);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "model.json.tmp"));
  // Into a directory that does not exist: an error, nothing written.
  EXPECT_FALSE(ReplaceFile(dir.path() / "none" / "f", "x", 0600).ok());
}

}  // namespace
}  // namespace vigil
