// Threads sharing one mapping: the same protocol as between processes, but
// visible to ThreadSanitizer (it cannot follow memory across processes).
#include <gtest/gtest.h>
#include <atomic>
#include <thread>
#include <vector>

#include <shmyolo/bus/ring.hpp>

#include "frame_pattern.hpp"
#include "test_support.hpp"

using namespace shmyolo::bus;
using namespace std::chrono_literals;

namespace {

void run_threads(Delivery delivery, std::uint64_t frames) {
  shmyolo::test::TempShmDir dir;
  RingOptions o;
  o.name = "shmyolo.t.threads";
  o.dir = dir.path();
  o.width = 16;
  o.height = 16;
  o.slot_count = 4;
  o.delivery = delivery;
  o.queue_wait = 10s;
  auto ring = FrameRing::create(o).value();
  std::vector<std::vector<std::uint64_t>> got(3);
  std::atomic<std::uint64_t> torn{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> consumers;
  consumers.reserve(3);
  for (int t = 0; t < 3; ++t) {
    consumers.emplace_back([&, t] {
      Consumer consumer(ring);
      std::vector<Consumer*> one{&consumer};
      while (true) {
        auto claim = (t == 0) ? claim_any(one, 20ms) : consumer.claim(20ms);
        if (!claim) {
          if (done.load()) return;
          continue;
        }
        const auto& meta = claim->info().meta;
        if (!test::check_frame(claim->pixels(), meta.user[1], meta.user[0])) torn.fetch_add(1);
        got[static_cast<std::size_t>(t)].push_back(meta.user[1]);
      }
    });
  }
  {
    auto producer = Producer::attach(ring).value();
    for (std::uint64_t i = 0; i < frames; ++i) {
      auto slot = producer.acquire();
      if (!slot) continue;  // latest: all slots claimed, frame dropped
      FrameMeta meta;
      meta.user[0] = test::fill_frame(slot->pixels(), i);
      meta.user[1] = i;
      producer.publish(*slot, meta);
    }
  }
  while (ring.header().counters.claimed.load() + ring.header().counters.dropped.load() <
         ring.header().counters.published.load()) {
    std::this_thread::sleep_for(1ms);
  }
  done = true;
  for (auto& t : consumers) t.join();
  std::vector<int> seen(frames, 0);
  std::uint64_t total = 0;
  for (const auto& v : got) {
    for (const auto i : v) {
      ASSERT_LT(i, frames);
      ASSERT_EQ(++seen[i], 1) << "frame " << i << " delivered twice";
      ++total;
    }
  }
  EXPECT_EQ(torn.load(), 0U);
  if (delivery == Delivery::queue) {
    EXPECT_EQ(total, frames);
  }
}

}  // namespace

TEST(Threads, QueueModeExactlyOnce) {
  run_threads(Delivery::queue, 20000);
}
TEST(Threads, LatestModeNoTearsNoDuplicates) {
  run_threads(Delivery::latest, 20000);
}
