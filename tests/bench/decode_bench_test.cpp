// `shmyolo bench decode` on a small clip: every way is measured, and the
// FFmpeg path's slots are compared with the OpenCV path's, so a user can
// check on their own video whether the two give the same pixels.
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace {

using shmyolo::test::TempDir;

TEST(DecodeBench, MeasuresEveryWayAndComparesTheTwoPathsSlots) {
  const TempDir dir;
  const auto clip = (dir.path() / "vga.mp4").string();
  const auto made = shmyolo::test::run(
      {shmyolo::test::shmyolo_bin(), "synth", "--video", clip, "--width", "640", "--height", "480", "--frames", "20"});
  ASSERT_EQ(made.exit_code, 0) << made.output;
  // 640x480 into 640: the same size, where the FFmpeg path converts straight into the slot.
  const auto r = shmyolo::test::run(
      {shmyolo::test::shmyolo_bin(), "bench", "decode", "--source", clip, "--frames", "20", "--input", "640"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* way : {"ffmpeg decode only (the floor)", "ffmpeg into the slot",
                          "ffmpeg key frames only, into the slot", "opencv, resized into the slot"}) {
    EXPECT_NE(r.output.find(way), std::string::npos) << way << "\n" << r.output;
  }
  EXPECT_NE(r.output.find("the ffmpeg path's slots against the opencv path's: 20 of 20 frames the same to the byte\n"),
            std::string::npos)
      << r.output;

  const auto missing = shmyolo::test::run(
      {shmyolo::test::shmyolo_bin(), "bench", "decode", "--source", (dir.path() / "none.mp4").string()});
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_NE(missing.output.find("failed: no video file at"), std::string::npos) << missing.output;
}

}  // namespace
