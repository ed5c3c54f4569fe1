// Latency histograms and precision/recall scoring.
#include <gtest/gtest.h>

#include <vector>

#include <shmyolo/stats/latency_histogram.hpp>
#include <shmyolo/stats/scoring.hpp>

using shmyolo::detect::Detection;
using shmyolo::ingest::GroundTruth;
using shmyolo::stats::LatencyHistogram;
using shmyolo::stats::score;

TEST(LatencyHistogram, PercentilesWithinOneBucket) {
  LatencyHistogram h;
  EXPECT_EQ(h.percentile_ms(0.5), 0);
  for (int ms = 1; ms <= 100; ++ms) h.record_ns(static_cast<std::uint64_t>(ms) * 1'000'000);
  EXPECT_EQ(h.count(), 100U);
  EXPECT_GE(h.percentile_ms(0.5), 50.0);
  EXPECT_LE(h.percentile_ms(0.5), 50.0 * 1.125);
  EXPECT_GE(h.percentile_ms(0.99), 99.0);
  EXPECT_LE(h.percentile_ms(0.99), 99.0 * 1.125);
  EXPECT_GE(h.percentile_ms(1.0), 100.0);
}

TEST(LatencyHistogram, MergeAddsSamplesAndExtremesAreClamped) {
  LatencyHistogram a;
  LatencyHistogram b;
  a.record_ns(0);                      // below a microsecond
  b.record_ns(10'000'000'000'000ULL);  // 2.8 hours: beyond the last bucket
  a.merge(b);
  EXPECT_EQ(a.count(), 2U);
  EXPECT_LT(a.percentile_ms(0.5), 0.01);
  EXPECT_GT(a.percentile_ms(1.0), 1e6);
}

TEST(LatencyHistogram, SubtractLeavesOnlyTheNewerSamples) {
  LatencyHistogram live;
  for (int i = 0; i < 100; ++i) live.record_ns(100'000'000);  // an early 100 ms spell
  LatencyHistogram seen;
  seen.merge(live);
  for (int i = 0; i < 10; ++i) live.record_ns(5'000'000);
  LatencyHistogram window;
  window.merge(live);
  window.subtract(seen);
  EXPECT_EQ(window.count(), 10U);
  EXPECT_LT(window.percentile_ms(0.99), 6.0);
  EXPECT_GT(live.percentile_ms(0.5), 99.0);
}

namespace {
Detection det(int cls, float score, float x1, float y1, float x2, float y2) {
  return {cls, score, {x1, y1, x2, y2}};
}
}  // namespace

TEST(Scoring, MatchesByClassAndOverlap) {
  const std::vector<GroundTruth> truth{{0, 10, 10, 50, 50, 1.0F}, {1, 100, 100, 150, 160, 1.0F}};
  const std::vector<Detection> found{
      det(0, 0.9F, 12, 11, 50, 52),      // circle found
      det(0, 0.8F, 11, 10, 49, 50),      // a duplicate: false positive
      det(0, 0.7F, 100, 100, 150, 160),  // right place, wrong class
  };
  const auto t = score(found, truth);
  EXPECT_EQ(t.true_positives, 1U);
  EXPECT_EQ(t.false_positives, 2U);
  EXPECT_EQ(t.false_negatives, 1U);
  EXPECT_NEAR(t.precision(), 1.0 / 3, 1e-9);
  EXPECT_NEAR(t.recall(), 0.5, 1e-9);
}

TEST(Scoring, HiddenObjectsCountNeitherWay) {
  const std::vector<GroundTruth> truth{{2, 0, 0, 40, 40, 0.2F}};  // mostly covered
  EXPECT_EQ(score(std::vector{det(2, 0.9F, 0, 0, 40, 40)}, truth).false_positives, 0U);
  const auto missed = score(std::vector<Detection>{}, truth);
  EXPECT_EQ(missed.false_negatives, 0U);
  EXPECT_EQ(missed.recall(), 1.0);
  EXPECT_EQ(score(std::vector{det(2, 0.9F, 100, 100, 140, 140)}, truth).false_positives, 1U);
}

TEST(Scoring, IouThresholdIsInclusiveAndLowOverlapMisses) {
  const std::vector<GroundTruth> truth{{0, 0, 0, 100, 100, 1.0F}};
  // Half the width: IoU exactly 0.5.
  EXPECT_EQ(score(std::vector{det(0, 0.9F, 0, 0, 50, 100)}, truth).true_positives, 1U);
  EXPECT_EQ(score(std::vector{det(0, 0.9F, 0, 0, 40, 100)}, truth).true_positives, 0U);
}
