// The snapshots folder keeps within its size and age limits, oldest first.
#include <gtest/gtest.h>

#include <filesystem>
#include <vector>

#include <shmyolo/bus/ring.hpp>

#include "../../src/pipeline/snapshots.hpp"
#include "test_support.hpp"

namespace shmyolo::pipeline {
namespace {

std::uint64_t folder_bytes(const std::filesystem::path& dir) {
  std::uint64_t bytes = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) bytes += e.file_size();
  return bytes;
}

TEST(Snapshots, TheFolderKeepsWithinItsSizeOldestFirst) {
  const test::TempShmDir dir;
  Snapshots s({.dir = dir.path(), .max_mb = 1, .max_age_s = 3600});
  const std::vector<std::uint8_t> jpeg(std::size_t{300} * 1024, 0xAB);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(s.save("cam-1-" + std::to_string(i), jpeg, 1000 + i));
  EXPECT_LE(folder_bytes(dir.path()), 1024U * 1024U);
  EXPECT_FALSE(std::filesystem::exists(Snapshots::path_of(dir.path(), "cam-1-0")));  // the oldest went
  EXPECT_TRUE(std::filesystem::exists(Snapshots::path_of(dir.path(), "cam-1-9")));
  // A replaced snapshot counts once.
  ASSERT_TRUE(s.save("cam-1-9", jpeg, 1011));
  EXPECT_LE(folder_bytes(dir.path()), 1024U * 1024U);
}

TEST(Snapshots, OldOnesGoAndARestartedAggregatorKnowsWhatIsThere) {
  const test::TempShmDir dir;
  const std::vector<std::uint8_t> jpeg(1000, 0xAB);
  {
    Snapshots s({.dir = dir.path(), .max_mb = 10, .max_age_s = 60});
    ASSERT_TRUE(s.save("cam-1-1", jpeg, 1000));
  }
  Snapshots again({.dir = dir.path(), .max_mb = 10, .max_age_s = 60});  // files written now: not old
  ASSERT_TRUE(again.save("cam-1-2", jpeg, bus::unix_ns() / 1'000'000'000 + 61));
  EXPECT_FALSE(std::filesystem::exists(Snapshots::path_of(dir.path(), "cam-1-1")));
  EXPECT_TRUE(std::filesystem::exists(Snapshots::path_of(dir.path(), "cam-1-2")));
}

TEST(Snapshots, OnlyIdsShmyoloMakesName) {
  EXPECT_TRUE(Snapshots::valid_id("gate-1796128824831-17"));
  EXPECT_FALSE(Snapshots::valid_id("../etc/passwd"));
  EXPECT_FALSE(Snapshots::valid_id(""));
  EXPECT_FALSE(Snapshots::valid_id(std::string(200, 'a')));
}

}  // namespace
}  // namespace shmyolo::pipeline
