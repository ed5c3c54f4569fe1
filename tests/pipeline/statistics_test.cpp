// The statistics model on real rings: one definition of dropped and
// back-pressure per delivery mode, the queue depth, and the JSON names every
// output shares (docs/pipeline.md#statistics).
#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include <shmyolo/bus/ring.hpp>

#include "../../src/pipeline/statistics.hpp"
#include "test_support.hpp"

using namespace shmyolo;
using namespace std::chrono_literals;

namespace {

bus::RingOptions options(const test::TempShmDir& dir, bus::Delivery delivery) {
  bus::RingOptions o;
  o.name = "shmyolo.stats.cam";
  o.dir = dir.path();
  o.width = 32;
  o.height = 8;
  o.slot_count = 2;
  o.delivery = delivery;
  o.full_policy = bus::FullPolicy::fail;
  o.queue_wait = 10ms;
  return o;
}

// Publishes until the ring has refused one frame (queue) or overwritten one (latest).
void overfill(bus::Producer& producer, int frames) {
  for (int i = 0; i < frames; ++i) {
    auto slot = producer.acquire();
    if (slot) producer.publish(*slot, bus::FrameMeta{});
  }
}

}  // namespace

TEST(Statistics, QueueModeRefusalsAreBackpressureNotDrops) {
  const test::TempShmDir dir;
  auto ring = bus::FrameRing::create(options(dir, bus::Delivery::queue)).value();
  auto producer = bus::Producer::attach(ring).value();
  overfill(producer, 3);  // 2 slots: the third waits 10 ms, then is refused
  const auto status = std::make_unique<pipeline::CameraStatus>();
  const auto c = pipeline::camera_counts("gate", ring, *status);
  EXPECT_EQ(c.frames_in, 2U);
  EXPECT_EQ(c.backpressure, 1U);
  EXPECT_EQ(c.dropped, 0U);
  EXPECT_EQ(c.queue_depth, 2U);
}

TEST(Statistics, LatestModeOverwritesAreDrops) {
  const test::TempShmDir dir;
  auto ring = bus::FrameRing::create(options(dir, bus::Delivery::latest)).value();
  auto producer = bus::Producer::attach(ring).value();
  overfill(producer, 5);  // 2 slots, nobody reading: 3 frames overwritten unclaimed
  const auto status = std::make_unique<pipeline::CameraStatus>();
  const auto c = pipeline::camera_counts("gate", ring, *status);
  EXPECT_EQ(c.frames_in, 5U);
  EXPECT_EQ(c.dropped, 3U);
  EXPECT_EQ(c.backpressure, 0U);
  EXPECT_LE(c.queue_depth, 2U);
}

TEST(Statistics, LatestModeRefusalsAreSkipsNotDrops) {
  const test::TempShmDir dir;
  auto ring = bus::FrameRing::create(options(dir, bus::Delivery::latest)).value();
  auto producer = bus::Producer::attach(ring).value();
  bus::Consumer consumer(ring);
  overfill(producer, 1);
  auto a = consumer.try_claim();  // latest: a worker takes the newest frame
  overfill(producer, 1);
  auto b = consumer.try_claim();
  ASSERT_TRUE(a && b);
  overfill(producer, 1);  // both slots being read: refused before conversion
  const auto status = std::make_unique<pipeline::CameraStatus>();
  status->frames_read = 3;
  const auto c = pipeline::camera_counts("gate", ring, *status);
  EXPECT_EQ(c.frames_in, 2U);
  EXPECT_EQ(c.skipped, 1U);
  EXPECT_EQ(c.dropped, 0U);
  EXPECT_EQ(c.decoded, c.frames_in + c.skipped);
}

TEST(Statistics, JsonNamesAndScoring) {
  const test::TempShmDir dir;
  auto ring = bus::FrameRing::create(options(dir, bus::Delivery::queue)).value();
  const auto status = std::make_unique<pipeline::CameraStatus>();
  status->results = 7;
  status->detections = 12;
  status->state = static_cast<std::uint32_t>(pipeline::CameraState::running);
  auto j = pipeline::counts_json(pipeline::camera_counts("gate", ring, *status));
  EXPECT_EQ(j["camera"], "gate");
  EXPECT_EQ(j["state"], "running");
  EXPECT_EQ(j["frames_out"], 7);
  EXPECT_EQ(j["detections"], 12);
  for (const char* key : {"frames_in", "dropped", "backpressure", "source_errors", "restarts", "queue_depth"}) {
    EXPECT_EQ(j[key], 0) << key;
  }
  EXPECT_FALSE(j.contains("precision")) << "an unscored camera has no precision";
  status->scored = 1;
  status->true_positives = 3;
  status->false_positives = 1;
  status->false_negatives = 0;
  j = pipeline::counts_json(pipeline::camera_counts("gate", ring, *status));
  EXPECT_EQ(j["precision"], 0.75);
  EXPECT_EQ(j["recall"], 1.0);
}

TEST(Statistics, PercentilesAndRounding) {
  stats::LatencyHistogram h;
  auto j = pipeline::percentiles_json(h);
  EXPECT_TRUE(j["p50"].is_null()) << "nothing measured is null, not 0";
  EXPECT_TRUE(j["p99"].is_null());
  for (int i = 1; i <= 100; ++i) h.record_ns(static_cast<std::uint64_t>(i) * 1'000'000);  // 1..100 ms
  j = pipeline::percentiles_json(h);
  // Within the histogram's 12.5 % buckets.
  EXPECT_NEAR(j["p50"].get<double>(), 50, 50 * 0.125);
  EXPECT_NEAR(j["p99"].get<double>(), 99, 99 * 0.125);
  EXPECT_EQ(pipeline::round_to(0.93849999, 4), 0.9385);
  EXPECT_EQ(pipeline::round_to(2.0 / 3.0, 2), 0.67);
}
