// The synthetic camera: deterministic for a seed, truthful boxes, and
// `shmyolo synth` writing frames with YOLO labels.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <vector>

#include <shmyolo/ingest/synthetic_camera.hpp>

#include "test_support.hpp"

using shmyolo::ingest::GroundTruth;
using shmyolo::ingest::SyntheticCamera;

namespace {

std::vector<std::uint8_t> render(const SyntheticCamera& cam, std::uint64_t index, std::vector<GroundTruth>& truth) {
  const auto& o = cam.options();
  std::vector<std::uint8_t> px(static_cast<std::size_t>(o.width) * o.height * 3);
  cam.render(index, px.data(), static_cast<std::size_t>(o.width) * 3, truth);
  return px;
}

}  // namespace

TEST(SyntheticCamera, SameSeedSameFrames) {
  const SyntheticCamera a({.width = 320, .height = 240, .seed = 42});
  const SyntheticCamera b({.width = 320, .height = 240, .seed = 42});
  std::vector<GroundTruth> ta;
  std::vector<GroundTruth> tb;
  for (const std::uint64_t i : {0ULL, 1ULL, 500ULL}) {
    EXPECT_EQ(render(a, i, ta), render(b, i, tb)) << "frame " << i;
    ASSERT_EQ(ta.size(), tb.size());
    for (std::size_t k = 0; k < ta.size(); ++k) EXPECT_FLOAT_EQ(ta[k].x1, tb[k].x1);
  }
}

// The bundled model learnt from these exact pixels: a faster renderer must
// draw the same ones. (Seeds 1-40 cover all four background patterns.)
TEST(SyntheticCamera, PixelsArePinned) {
  std::uint64_t hash = 14695981039346656037ULL;  // FNV-1a 64: offset basis and prime
  std::vector<GroundTruth> truth;
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    const SyntheticCamera cam({.width = 160, .height = 120, .seed = seed});
    for (const std::uint8_t byte : render(cam, seed * 7, truth)) hash = (hash ^ byte) * 1099511628211ULL;
  }
  EXPECT_EQ(hash, 9583754053384385585ULL);
}

TEST(SyntheticCamera, SeedsAndFramesDiffer) {
  const SyntheticCamera a({.width = 320, .height = 240, .seed = 1});
  const SyntheticCamera b({.width = 320, .height = 240, .seed = 2});
  std::vector<GroundTruth> t;
  EXPECT_NE(render(a, 0, t), render(b, 0, t));
  EXPECT_NE(render(a, 0, t), render(a, 30, t));  // objects move
}

TEST(SyntheticCamera, TruthBoxesLieInTheFrameAndCoverTheObject) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const SyntheticCamera cam({.width = 320, .height = 240, .seed = seed, .min_objects = 1, .max_objects = 4});
    std::vector<GroundTruth> truth;
    const auto px = render(cam, seed * 7, truth);
    ASSERT_FALSE(truth.empty()) << "seed " << seed;
    for (const auto& g : truth) {
      EXPECT_GE(g.x1, 0);
      EXPECT_GE(g.y1, 0);
      EXPECT_LE(g.x2, 320);
      EXPECT_LE(g.y2, 240);
      EXPECT_GT(g.x2 - g.x1, 2);
      EXPECT_GE(g.class_id, 0);
      EXPECT_LT(g.class_id, 4);
    }
  }
}

TEST(Synth, WritesFramesAndYoloLabels) {
  shmyolo::test::TempShmDir dir;  // any scratch directory will do
  const auto out = dir.path() / "set";
  const auto r = shmyolo::test::run({shmyolo::test::shmyolo_bin(), "synth", "--out", out.string(), "--frames", "5",
                                     "--cameras", "2", "--width", "160", "--height", "120", "--seed", "9"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  int images = 0;
  for (const auto& e : std::filesystem::directory_iterator(out / "images")) images += e.path().extension() == ".png";
  EXPECT_EQ(images, 10);
  std::ifstream label(out / "labels" / "s9_c0_000000.txt");
  std::string line;
  int rows = 0;
  while (std::getline(label, line)) {
    std::istringstream in(line);
    int cls = -1;
    float cx = -1;
    float cy = -1;
    float w = -1;
    float h = -1;
    ASSERT_TRUE(in >> cls >> cx >> cy >> w >> h) << line;
    EXPECT_GE(cls, 0);
    EXPECT_LT(cls, 4);
    for (const float v : {cx, cy, w, h}) {
      EXPECT_GE(v, 0.0F);
      EXPECT_LE(v, 1.0F);
    }
    ++rows;
  }
  EXPECT_GT(rows, 0);
  std::ifstream classes(out / "classes.txt");
  std::getline(classes, line);
  EXPECT_EQ(line, "circle");
}

TEST(SyntheticCamera, TruthWithoutRenderingIsTheRenderedTruth) {
  const SyntheticCamera cam({.width = 640, .height = 480, .seed = 5, .min_objects = 3, .max_objects = 4});
  std::vector<GroundTruth> rendered;
  std::vector<GroundTruth> computed;
  for (const std::uint64_t i : {0ULL, 13ULL, 1000ULL}) {
    render(cam, i, rendered);
    cam.truth(i, computed);
    ASSERT_EQ(rendered.size(), computed.size());
    for (std::size_t k = 0; k < rendered.size(); ++k) {
      EXPECT_EQ(rendered[k].class_id, computed[k].class_id);
      EXPECT_FLOAT_EQ(rendered[k].x1, computed[k].x1);
      EXPECT_FLOAT_EQ(rendered[k].y2, computed[k].y2);
      EXPECT_FLOAT_EQ(rendered[k].visible, computed[k].visible);
    }
  }
}

// The last object drawn is never covered; over many scenes, partly covered
// objects do show up, with a visibility between 0 and 1.
TEST(SyntheticCamera, VisibilityIsMeasuredUnderOverlaps) {
  int covered = 0;
  for (std::uint64_t seed = 1; seed <= 200 && covered < 5; ++seed) {
    const SyntheticCamera cam({.width = 320, .height = 240, .seed = seed, .min_objects = 4, .max_objects = 4});
    std::vector<GroundTruth> truth;
    for (std::uint64_t i = 0; i < 400 && covered < 5; i += 20) {
      cam.truth(i, truth);
      ASSERT_FALSE(truth.empty());
      EXPECT_FLOAT_EQ(truth.back().visible, 1.0F);
      for (const auto& g : truth) {
        EXPECT_GE(g.visible, 0.0F);
        EXPECT_LE(g.visible, 1.0F);
        if (g.visible < 0.9F) ++covered;
      }
    }
  }
  EXPECT_GE(covered, 5);
}
