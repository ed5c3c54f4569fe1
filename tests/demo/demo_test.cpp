// The bundled demo model and `shmyolo demo`: the model finds the synthetic
// camera's objects, the slot letterbox matches the detector's own, and the
// demo runs end to end through real processes and shared memory.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <shmyolo/detect/detector.hpp>
#include <shmyolo/ingest/slot_letterbox.hpp>
#include <shmyolo/ingest/synthetic_camera.hpp>
#include <shmyolo/stats/scoring.hpp>

#include "test_support.hpp"

namespace {

using shmyolo::detect::Detector;
using shmyolo::ingest::GroundTruth;
using shmyolo::ingest::SyntheticCamera;

const std::string kModel = shmyolo::test::source_dir() + "/models/shapes-320.onnx";
constexpr float kConfidence = 0.5F;  // the model's operating point, chosen on its held-out set

Detector open_model() {
  auto d = Detector::open({.path = kModel});
  if (!d) throw std::runtime_error(d.error().message);
  return std::move(*d);
}

shmyolo::detect::ImageView view(const cv::Mat& m) {
  return {.data = m.data, .width = m.cols, .height = m.rows, .stride = m.step};
}

}  // namespace

TEST(BundledModel, KnowsTheSyntheticClassesAndTheV8Layout) {
  const Detector d = open_model();
  EXPECT_EQ(d.info().names, SyntheticCamera::class_names());
  EXPECT_EQ(d.info().layout, shmyolo::detect::OutputLayout::yolov8);
  EXPECT_EQ(d.info().input_width, 320);
  EXPECT_TRUE(d.info().dynamic_batch);
  EXPECT_LE(std::filesystem::file_size(kModel), 2U * 1024 * 1024);
}

// Scenes none of the training or held-out cameras used (those seeds start at
// 1000 and 900000); both aspect ratios the training saw.
TEST(BundledModel, PrecisionAndRecallAtLeast90PercentOnUnseenScenes) {
  Detector d = open_model();
  shmyolo::stats::Tally total;
  std::vector<GroundTruth> truth;
  for (const auto& [w, h, cameras] : {std::tuple{640, 480, 60}, std::tuple{960, 540, 30}}) {
    for (int c = 0; c < cameras; ++c) {
      const SyntheticCamera cam({.width = w, .height = h, .seed = 424242U + static_cast<std::uint64_t>(c) * 7});
      cv::Mat frame(h, w, CV_8UC3);
      for (const std::uint64_t index : {0ULL, 97ULL, 311ULL}) {
        cam.render(index, frame.data, frame.step, truth);
        auto out = d.detect(view(frame), {.confidence = kConfidence});
        ASSERT_TRUE(out) << out.error().message;
        total += shmyolo::stats::score(out->detections, truth);
      }
    }
  }
  RecordProperty("precision", std::to_string(total.precision()));
  RecordProperty("recall", std::to_string(total.recall()));
  std::printf("precision %.4f recall %.4f (%llu true positives)\n", total.precision(), total.recall(),
              static_cast<unsigned long long>(total.true_positives));
  EXPECT_GT(total.true_positives, 400U);
  EXPECT_GE(total.precision(), 0.9);
  EXPECT_GE(total.recall(), 0.9);
}

TEST(SlotLetterbox, GivesTheDetectorsOwnResultAndPadsWithGrey) {
  Detector d = open_model();
  const SyntheticCamera cam({.width = 640, .height = 480, .seed = 31337});
  cv::Mat frame(480, 640, CV_8UC3);
  std::vector<GroundTruth> truth;
  cam.render(5, frame.data, frame.step, truth);
  // A slot whose rows are padded, as a ring with a row stride has them.
  constexpr std::size_t kStride = 320 * 3 + 64;
  std::vector<std::uint8_t> slot(kStride * 320, 0);
  const auto t = shmyolo::ingest::letterbox_into_slot(view(frame), {slot.data(), 320, 320, kStride});
  EXPECT_EQ(t.pad_x, 0);
  EXPECT_EQ(t.pad_y, 40);  // 480 * 0.5 = 240 rows, 80 rows of padding split evenly
  EXPECT_EQ(slot[0], 114);
  constexpr std::size_t kLastRow = kStride * 319;
  EXPECT_EQ(slot[kLastRow + std::size_t{319} * 3 + 2], 114);
  EXPECT_EQ(slot[kLastRow + std::size_t{320} * 3], 0);  // the stride's slack is left alone

  auto direct = d.detect(view(frame), {.confidence = kConfidence});
  auto in_slot =
      d.detect({.data = slot.data(), .width = 320, .height = 320, .stride = kStride}, {.confidence = kConfidence});
  ASSERT_TRUE(direct && in_slot);
  ASSERT_EQ(direct->detections.size(), in_slot->detections.size());
  ASSERT_FALSE(direct->detections.empty());
  for (std::size_t i = 0; i < direct->detections.size(); ++i) {
    const auto& a = direct->detections[i];
    const auto& b = in_slot->detections[i];
    EXPECT_EQ(a.class_id, b.class_id);
    EXPECT_NEAR(a.score, b.score, 1e-4);
    EXPECT_NEAR(a.box.x1, (b.box.x1 - static_cast<float>(t.pad_x)) / t.scale_x, 0.5);
    EXPECT_NEAR(a.box.y2, (b.box.y2 - static_cast<float>(t.pad_y)) / t.scale_y, 0.5);
  }
}

class Demo : public ::testing::Test {
 protected:
  void SetUp() override { setenv("SHMYOLO_SHM_DIR", dir_.path().c_str(), 1); }
  void TearDown() override { unsetenv("SHMYOLO_SHM_DIR"); }
  shmyolo::test::TempShmDir dir_;
};

TEST_F(Demo, RunsEndToEndAndWritesItsSummary) {
  const auto json = dir_.path() / "summary.json";
  const auto r = shmyolo::test::run({shmyolo::test::shmyolo_bin(), "demo", "--duration", "5", "--cameras", "2",
                                     "--workers", "2", "--fps", "8", "--json", json.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("  cam1 "), std::string::npos) << r.output;
  std::ifstream in(json);
  const auto s = nlohmann::json::parse(in);
  // The statistics' own names (docs/pipeline.md#statistics), as in --stats-json.
  for (const char* key : {"cameras", "frames_out", "fps_out", "latency_ms", "precision", "recall", "per_camera"}) {
    EXPECT_TRUE(s.contains(key)) << key;
  }
  EXPECT_EQ(s["cameras"], 2);
  EXPECT_GE(s["frames_out"].get<int>(), 40);  // 2 cameras x 8 fps x 5 s = 80, with room for a loaded machine
  const auto& e2e = s["latency_ms"]["end_to_end"];
  EXPECT_GT(e2e["p50"].get<double>(), 0);
  EXPECT_GE(e2e["p99"].get<double>(), e2e["p50"].get<double>());
  ASSERT_EQ(s["per_camera"].size(), 2U);
  EXPECT_EQ(s["per_camera"][0]["camera"], "cam0");
  EXPECT_GE(s["precision"].get<double>(), 0.9);
  EXPECT_GE(s["recall"].get<double>(), 0.9);
  EXPECT_TRUE(dir_.entries().empty());
}

TEST_F(Demo, StopsCleanlyOnCtrlC) {
  auto child = shmyolo::test::spawn({shmyolo::test::shmyolo_bin(), "demo", "--duration", "0"});
  std::string seen;
  ASSERT_TRUE(shmyolo::test::read_until(child.stdout_fd, "  cam0 ", std::chrono::seconds(30), &seen)) << seen;
  EXPECT_FALSE(dir_.entries().empty());
  kill(child.pid, SIGINT);
  const auto code = shmyolo::test::wait_exit(child.pid, std::chrono::seconds(20));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(code.value_or(-1), 0);
  EXPECT_NE(shmyolo::test::read_output(child.stdout_fd, std::chrono::seconds(2)).find("summary:"), std::string::npos);
  EXPECT_TRUE(dir_.entries().empty());
}

// ONNX Runtime's telemetry client would parse /proc/self/cmdline and
// overflow the stack on a long command line, and leave /tmp/mat-debug-*.log
// files behind; shmyolo turns it off.
TEST(Detect, ManyImagesOnOneCommandLineAndNoTelemetryFiles) {
  shmyolo::test::TempShmDir dir;
  ASSERT_EQ(shmyolo::test::run({shmyolo::test::shmyolo_bin(), "synth", "--out", dir.path().string(), "--frames", "1",
                                "--width", "160", "--height", "120"})
                .exit_code,
            0);
  const auto png = dir.path() / "images" / "s1_c0_000000.png";
  std::vector<std::string> argv{shmyolo::test::shmyolo_bin(), "detect", "--model", kModel};
  for (int i = 0; i < 800; ++i) argv.push_back(png.string());
  auto child = shmyolo::test::spawn(argv);
  const std::string out = shmyolo::test::read_output(child.stdout_fd, std::chrono::seconds(120));
  const auto code = shmyolo::test::wait_exit(child.pid, std::chrono::seconds(10));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(code.value_or(-1), 0) << out.substr(0, 300);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 800);
  EXPECT_FALSE(std::filesystem::exists("/tmp/mat-debug-" + std::to_string(child.pid) + ".log"));
}

TEST_F(Demo, MissingModelIsOneLineAndLeavesNothing) {
  const auto r = shmyolo::test::run({shmyolo::test::shmyolo_bin(), "demo", "--model", "/nonexistent/m.onnx"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("/nonexistent/m.onnx"), std::string::npos) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  EXPECT_TRUE(dir_.entries().empty());
}
