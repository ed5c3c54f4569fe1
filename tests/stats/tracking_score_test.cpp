// CLEAR MOT and IDF1 on hand-made tracks, and true line crossings.
#include <gtest/gtest.h>

#include <vector>

#include <shmyolo/stats/tracking_score.hpp>

namespace shmyolo::stats {
namespace {

ingest::GroundTruth object(int id, float x, float y = 100) {
  return {.class_id = 0, .x1 = x, .y1 = y, .x2 = x + 40, .y2 = y + 40, .visible = 1, .id = id};
}

detect::Detection box(float x, float y = 100) {
  return {0, 0.9F, {x, y, x + 40, y + 40}};
}

TEST(TrackingScore, PerfectTracksScoreOne) {
  TrackingScore s;
  for (int f = 0; f < 10; ++f) {
    const std::vector<ingest::GroundTruth> truth{object(0, 10.0F * static_cast<float>(f)), object(1, 300)};
    const std::vector<detect::Detection> boxes{box(10.0F * static_cast<float>(f)), box(300)};
    const std::vector<std::uint64_t> ids{7, 9};
    s.frame(truth, boxes, ids);
  }
  const auto t = s.tally();
  EXPECT_EQ(t.objects, 20U);
  EXPECT_DOUBLE_EQ(t.mota(), 1.0);
  EXPECT_DOUBLE_EQ(t.idf1(), 1.0);
}

TEST(TrackingScore, ASwitchCountsOnceAndHalvesTheIdMatches) {
  TrackingScore s;
  for (int f = 0; f < 10; ++f) {
    const std::vector<ingest::GroundTruth> truth{object(0, 100)};
    const std::vector<detect::Detection> boxes{box(100)};
    const std::vector<std::uint64_t> ids{f < 5 ? 1U : 2U};  // the track changes half way
    s.frame(truth, boxes, ids);
  }
  const auto t = s.tally();
  EXPECT_EQ(t.id_switches, 1U);
  EXPECT_DOUBLE_EQ(t.mota(), 0.9);  // 1 switch in 10 objects
  EXPECT_DOUBLE_EQ(t.idf1(), 0.5);  // 5 of 10 frames on the object's one track
}

TEST(TrackingScore, MissesFalseBoxesAndBoxesWithoutATrackYet) {
  TrackingScore s;
  const std::vector<ingest::GroundTruth> truth{object(0, 100), object(1, 300)};
  const std::vector<detect::Detection> boxes{box(100), box(500), box(300)};
  const std::vector<std::uint64_t> ids{1, 2, 0};  // the third has no track yet: not counted
  s.frame(truth, boxes, ids);
  const auto t = s.tally();
  EXPECT_EQ(t.misses, 1U);
  EXPECT_EQ(t.false_boxes, 1U);
  EXPECT_DOUBLE_EQ(t.mota(), 0.0);
}

TEST(TrackingScore, ABoxOnAMostlyHiddenObjectIsNeitherRightNorWrong) {
  TrackingScore s;
  auto hidden = object(0, 100);
  hidden.visible = 0.2F;
  const std::vector<ingest::GroundTruth> truth{hidden};
  const std::vector<detect::Detection> boxes{box(100)};
  const std::vector<std::uint64_t> ids{1};
  s.frame(truth, boxes, ids);
  const auto t = s.tally();
  EXPECT_EQ(t.objects, 0U);
  EXPECT_EQ(t.false_boxes, 0U);
  EXPECT_EQ(t.boxes, 0U);
}

TEST(TrueCrossings, CountsEachObjectsCrossingsInTheCountedDirections) {
  TrueCrossings both({{.name = "x", .from = {200, 0}, .to = {200, 480}}}, true);
  TrueCrossings forward_only({{.name = "x", .from = {200, 0}, .to = {200, 480}, .count_backward = false}}, true);
  // Object 0 walks right across x = 200 and back; object 1 stays left of it.
  const std::vector<float> xs{100, 150, 190, 230, 260, 230, 150};
  for (const float x : xs) {
    const std::vector<ingest::GroundTruth> truth{object(0, x - 20), object(1, 20)};
    both.frame(truth);
    forward_only.frame(truth);
  }
  EXPECT_EQ(both.count(), 2U);
  // From (200,0) to (200,480) faces down the picture: its right is x < 200,
  // so walking right (to larger x) is backward.
  EXPECT_EQ(forward_only.count(), 1U);
}

}  // namespace
}  // namespace shmyolo::stats
