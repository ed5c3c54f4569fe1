// `shmyolo bench transport-e2e` on a small scale: both architectures run for
// real (spool files, the pipeline) and every frame is accounted for. The
// figures themselves are the benchmark's business, not the test's.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "test_support.hpp"

namespace {

using nlohmann::json;
using shmyolo::test::TempShmDir;

const std::string kShapes = shmyolo::test::source_dir() + "/models/shapes-320.onnx";

TEST(TransportE2e, BothArchitecturesProcessEveryFrameAndLeaveNothing) {
  TempShmDir out;
  TempShmDir shm;
  TempShmDir spool;
  const auto report = out.path() / "e2e.json";
  const auto plot = out.path() / "e2e.png";
  const auto r = shmyolo::test::run({shmyolo::test::shmyolo_bin(),
                                     "bench",
                                     "transport-e2e",
                                     "--model",
                                     kShapes,
                                     "--width",
                                     "640",
                                     "--height",
                                     "480",
                                     "--cameras",
                                     "2",
                                     "--workers",
                                     "1",
                                     "--fps",
                                     "10",
                                     "--frames",
                                     "16",
                                     "--full-speed-frames",
                                     "16",
                                     "--rounds",
                                     "2",
                                     "--json",
                                     report.string(),
                                     "--plot",
                                     plot.string(),
                                     "--shm-dir",
                                     shm.path().string(),
                                     "--spool-dir",
                                     spool.path().string()},
                                    std::chrono::seconds(240));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* row : {"file I/O, JPEG", "file I/O, raw BGR", "shared memory (shmyolo)", "shared memory vs JPEG"}) {
    EXPECT_NE(r.output.find(row), std::string::npos) << row << "\n" << r.output;
  }
  std::ifstream in(report);
  const json j = json::parse(in);
  ASSERT_EQ(j["architectures"].size(), 3U);
  for (const auto& a : j["architectures"]) {
    SCOPED_TRACE(a["transport"].get<std::string>());
    EXPECT_EQ(a["error"], "");
    for (const char* run : {"paced", "unpaced"}) {
      const auto& s = a[run];
      // 2 cameras x 2 rounds x 8 frames, less each camera's 3 warm-up frames a round
      EXPECT_EQ(s["frames"], 2 * 2 * (8 - 3)) << run;
      EXPECT_GE(s["latency_ms"]["p99"].get<double>(), s["latency_ms"]["p50"].get<double>());
      EXPECT_GT(s["latency_ms"]["p50"].get<double>(), 0);
      EXPECT_GE(s["outside_inference_ms"].get<double>(), 0);
      EXPECT_LT(s["outside_inference_ms"].get<double>(), s["latency_ms"]["mean"].get<double>());
      EXPECT_GT(s["pss_mb_peak"].get<double>(), 10);
      EXPECT_GT(s["cpu_pct"].get<double>(), 0);
      EXPECT_GT(s["fps"].get<double>(), 0);
    }
  }
  // Raw BGR spool files are width x height x 3 bytes each; at least one waited.
  EXPECT_GE(j["architectures"][1]["unpaced"]["spool_mb_peak"].get<double>(), 640 * 480 * 3 / 1e6);
  const cv::Mat png = cv::imread(plot.string());
  EXPECT_FALSE(png.empty());
  EXPECT_TRUE(shm.entries().empty());
  EXPECT_TRUE(std::filesystem::is_empty(spool.path()));
}

TEST(TransportE2e, MissingModelIsOneClearLine) {
  const auto r = shmyolo::test::run({shmyolo::test::shmyolo_bin(), "bench", "transport-e2e", "--model",
                                     "/nonexistent/model.onnx", "--frames", "10", "--full-speed-frames", "0"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("/nonexistent/model.onnx"), std::string::npos) << r.output;
}

}  // namespace
