// The tracker alone, on scripted boxes: births, motion, occlusions, the gaps
// of latest delivery, and the assignment under it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include <shmyolo/track/assignment.hpp>
#include <shmyolo/track/tracker.hpp>

namespace shmyolo::track {
namespace {

constexpr std::uint64_t kFrameNs = 33'333'333;  // 30 fps

detect::Detection box_at(float x, float y, float score = 0.9F, int class_id = 0, float size = 40) {
  return {class_id, score, {x, y, x + size, y + size}};
}

std::uint64_t only_id(Tracker& t, std::uint64_t ns, const detect::Detection& d) {
  const auto ids = t.update(ns, std::span(&d, 1));
  return ids.at(0);
}

TEST(Assignment, FindsTheLeastTotalCostWhereGreedyWouldNot) {
  // Greedy takes (0,0) at 0.1 and is left with (1,1) at 0.9: 1.0 in all.
  const std::vector<float> cost{0.1F, 0.2F, 0.15F, 0.9F};
  auto pairs = assign(cost, 2, 2, 1.0F);
  std::ranges::sort(pairs);
  ASSERT_EQ(pairs.size(), 2U);
  EXPECT_EQ(pairs[0], std::make_pair(std::size_t{0}, std::size_t{1}));
  EXPECT_EQ(pairs[1], std::make_pair(std::size_t{1}, std::size_t{0}));
}

TEST(Assignment, LeavesPairsAtOrAboveTheLimitUnmatched) {
  const std::vector<float> cost{0.5F, kNoMatch, kNoMatch, 0.95F};
  const auto pairs = assign(cost, 2, 2, 0.9F);
  ASSERT_EQ(pairs.size(), 1U);
  EXPECT_EQ(pairs[0], std::make_pair(std::size_t{0}, std::size_t{0}));
}

TEST(Assignment, PrefersTwoFairPairsToOneGoodPair) {
  // Row 0 fits column 0 best, but then row 1 has nothing: 0.3 + 0.3 beats
  // 0.05 + two unmatched (0.8 at limit 0.8).
  const std::vector<float> cost{0.05F, 0.3F, 0.3F, kNoMatch};
  const auto pairs = assign(cost, 2, 2, 0.8F);
  EXPECT_EQ(pairs.size(), 2U);
}

TEST(Tracker, ANewObjectIsReportedFromItsSecondFrame) {
  Tracker t({});
  EXPECT_EQ(only_id(t, 0, box_at(100, 100)), 0U);
  EXPECT_EQ(t.tracks().size(), 1U);
  EXPECT_FALSE(t.tracks()[0].confirmed);
  const auto id = only_id(t, kFrameNs, box_at(103, 100));
  EXPECT_EQ(id, 1U);
  EXPECT_TRUE(t.tracks()[0].confirmed);
}

TEST(Tracker, AnUnsureDetectionStartsNoTrackAndANewTrackSeenOnceIsForgotten) {
  Tracker t({});
  EXPECT_EQ(only_id(t, 0, box_at(100, 100, 0.4F)), 0U);
  EXPECT_TRUE(t.tracks().empty());
  EXPECT_EQ(only_id(t, kFrameNs, box_at(300, 300)), 0U);  // tentative
  t.update(2 * kFrameNs, {});                             // not seen again: a flicker
  EXPECT_TRUE(t.tracks().empty());
  EXPECT_TRUE(t.ended().empty());  // never confirmed, so never reported as ended
}

TEST(Tracker, AMovingObjectKeepsOneIdAndItsVelocityIsLearnt) {
  Tracker t({});
  std::uint64_t id = 0;
  for (int f = 0; f < 60; ++f) {
    const auto got = only_id(t, static_cast<std::uint64_t>(f) * kFrameNs,
                             box_at(10 + 8.0F * static_cast<float>(f), 50 + 2.0F * static_cast<float>(f)));
    if (f == 1) id = got;
    if (f >= 1) {
      EXPECT_EQ(got, id) << "frame " << f;
    }
  }
  ASSERT_EQ(t.tracks().size(), 1U);
  EXPECT_NEAR(t.tracks()[0].velocity_x, 8 * 30, 10);  // pixels per second
  EXPECT_NEAR(t.tracks()[0].velocity_y, 2 * 30, 10);
}

TEST(Tracker, PredictsByCaptureTimeAcrossTheGapsOfLatestDelivery) {
  // 300 px/s; after 10 frames, a 300 ms gap moves the box 90 px, more than
  // its own width: only a prediction over the real time still overlaps it.
  Tracker t({});
  std::uint64_t ns = 0;
  float x = 0;
  std::uint64_t id = 0;
  for (int f = 0; f < 10; ++f, ns += kFrameNs, x += 10) id = only_id(t, ns, box_at(x, 100));
  ASSERT_NE(id, 0U);
  ns += 300'000'000 - kFrameNs;
  x += 90 - 10;
  EXPECT_EQ(only_id(t, ns, box_at(x, 100)), id);
  EXPECT_EQ(t.tracks().size(), 1U);
}

TEST(Tracker, AnObjectHiddenForAWhileComesBackWithItsId) {
  Tracker t({});
  std::uint64_t id = 0;
  std::uint64_t ns = 0;
  for (int f = 0; f < 20; ++f, ns += kFrameNs) id = only_id(t, ns, box_at(100 + 4.0F * static_cast<float>(f), 100));
  for (int f = 20; f < 35; ++f, ns += kFrameNs) {  // half a second behind something
    t.update(ns, {});
    EXPECT_TRUE(t.ended().empty());
  }
  EXPECT_EQ(only_id(t, ns, box_at(100 + 4.0F * 35, 100)), id);
}

TEST(Tracker, ATrackUnseenForMaxLostEndsOnceAndANewIdFollows) {
  Tracker t({.max_lost_s = 0.5});
  std::uint64_t ns = 0;
  std::uint64_t id = 0;
  for (int f = 0; f < 5; ++f, ns += kFrameNs) id = only_id(t, ns, box_at(100, 100));
  int ended = 0;
  for (int f = 0; f < 30; ++f, ns += kFrameNs) {
    t.update(ns, {});
    for (const auto& e : t.ended()) {
      EXPECT_EQ(e.id, id);
      ++ended;
    }
  }
  EXPECT_EQ(ended, 1);
  only_id(t, ns, box_at(100, 100));
  EXPECT_EQ(only_id(t, ns + kFrameNs, box_at(100, 100)), id + 1);
}

TEST(Tracker, AnUnsureDetectionKeepsATrackItOverlaps) {
  Tracker t({.max_lost_s = 0.2});
  std::uint64_t ns = 0;
  std::uint64_t id = 0;
  for (int f = 0; f < 5; ++f, ns += kFrameNs) id = only_id(t, ns, box_at(100, 100));
  for (int f = 0; f < 30; ++f, ns += kFrameNs) {  // half hidden: scores 0.3
    EXPECT_EQ(only_id(t, ns, box_at(100, 100, 0.3F)), id);
    EXPECT_TRUE(t.ended().empty());
  }
}

TEST(Tracker, ObjectsCrossingEachOtherKeepTheirIds) {
  Tracker t({});
  std::uint64_t ns = 0;
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  for (int f = 0; f < 40; ++f, ns += kFrameNs) {
    const std::vector<detect::Detection> d{box_at(10 + 10.0F * static_cast<float>(f), 100),
                                           box_at(410 - 10.0F * static_cast<float>(f), 110)};
    const auto ids = t.update(ns, d);
    if (f == 1) {
      a = ids[0];
      b = ids[1];
      ASSERT_NE(a, b);
    }
    if (f >= 1) {
      EXPECT_EQ(ids[0], a) << "frame " << f;
      EXPECT_EQ(ids[1], b) << "frame " << f;
    }
  }
}

TEST(Tracker, BoxesOfAnotherClassNeverMatch) {
  Tracker t({});
  only_id(t, 0, box_at(100, 100, 0.9F, 0));
  only_id(t, kFrameNs, box_at(100, 100, 0.9F, 0));
  const auto other = only_id(t, 2 * kFrameNs, box_at(100, 100, 0.9F, 1));
  EXPECT_EQ(other, 0U);  // a new tentative track of class 1
  EXPECT_EQ(t.tracks().size(), 2U);
}

TEST(Tracker, EndAllEndsEveryConfirmedTrackOnce) {
  Tracker t({});
  for (int f = 0; f < 3; ++f) {
    const std::vector<detect::Detection> d{box_at(10, 10), box_at(200, 200)};
    t.update(static_cast<std::uint64_t>(f) * kFrameNs, d);
  }
  only_id(t, 3 * kFrameNs, box_at(400, 400));  // tentative: not reported
  EXPECT_EQ(t.end_all().size(), 2U);
  EXPECT_TRUE(t.tracks().empty());
  EXPECT_TRUE(t.end_all().empty());
}

}  // namespace
}  // namespace shmyolo::track
