// The ring protocol in one process: delivery modes, full policies, leases,
// doorbells, several rings at once, peeking.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <thread>

#include <shmyolo/bus/ring.hpp>

#include "frame_pattern.hpp"
#include "test_support.hpp"

using namespace shmyolo::bus;
using namespace std::chrono_literals;
using shmyolo::test::TempShmDir;

namespace {

RingOptions options(const TempShmDir& dir, Delivery delivery, std::uint32_t slots,
                    const std::string& name = "shmyolo.t.r") {
  RingOptions o;
  o.name = name;
  o.dir = dir.path();
  o.width = 32;
  o.height = 8;
  o.slot_count = slots;
  o.delivery = delivery;
  o.queue_wait = 50ms;
  return o;
}

std::uint64_t publish(Producer& p, std::uint64_t index) {
  auto slot = p.acquire();
  EXPECT_TRUE(slot) << slot.error().message;
  if (!slot) return 0;
  FrameMeta meta;
  meta.user[0] = test::fill_frame(slot->pixels(), index);
  meta.user[1] = index;
  return p.publish(*slot, meta);
}

}  // namespace

TEST(Ring, QueueDeliversEveryFrameInOrder) {
  TempShmDir dir;
  auto ring = FrameRing::create(options(dir, Delivery::queue, 4)).value();
  auto producer = Producer::attach(ring).value();
  Consumer consumer(ring);
  for (std::uint64_t i = 0; i < 3; ++i) publish(producer, i);
  for (std::uint64_t i = 0; i < 3; ++i) {
    auto claim = consumer.try_claim();
    ASSERT_TRUE(claim);
    EXPECT_EQ(claim->info().meta.user[1], i);
    EXPECT_TRUE(test::check_frame(claim->pixels(), i, claim->info().meta.user[0]));
  }
  EXPECT_EQ(consumer.try_claim().error().code, BusErrc::timeout);
}

TEST(Ring, LatestHandsOutTheNewestFrameAndDropsOlderOnes) {
  TempShmDir dir;
  auto ring = FrameRing::create(options(dir, Delivery::latest, 4)).value();
  auto producer = Producer::attach(ring).value();
  Consumer consumer(ring);
  for (std::uint64_t i = 0; i < 10; ++i) publish(producer, i);  // never waits
  auto claim = consumer.try_claim();
  ASSERT_TRUE(claim);
  EXPECT_EQ(claim->info().meta.user[1], 9U);
  EXPECT_EQ(consumer.try_claim().error().code, BusErrc::timeout);
  EXPECT_EQ(ring.header().counters.published.load(), 10U);
  EXPECT_EQ(ring.header().counters.dropped.load(), 9U);
}

TEST(Ring, LatestNeverOverwritesAClaimedSlot) {
  TempShmDir dir;
  auto ring = FrameRing::create(options(dir, Delivery::latest, 3)).value();
  auto producer = Producer::attach(ring).value();
  Consumer consumer(ring);
  publish(producer, 0);
  auto held = consumer.try_claim();
  ASSERT_TRUE(held);
  for (std::uint64_t i = 1; i < 50; ++i) publish(producer, i);
  EXPECT_TRUE(test::check_frame(held->pixels(), 0, held->info().meta.user[0]));
  // With every slot claimed, the camera drops its frame instead of waiting.
  auto a = consumer.try_claim();
  auto b = consumer.try_claim();
  publish(producer, 50);
  auto c = consumer.try_claim();
  ASSERT_TRUE(a && c);
  auto full = producer.acquire();
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, BusErrc::ring_full);
  EXPECT_TRUE(test::check_frame(held->pixels(), 0, held->info().meta.user[0]));
}

TEST(Ring, QueueFailPolicyRefusesAfterTheBoundedWait) {
  TempShmDir dir;
  auto o = options(dir, Delivery::queue, 2);
  o.full_policy = FullPolicy::fail;
  auto ring = FrameRing::create(o).value();
  auto producer = Producer::attach(ring).value();
  publish(producer, 0);
  publish(producer, 1);
  const auto t0 = std::chrono::steady_clock::now();
  auto slot = producer.acquire();
  const auto waited = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(slot);
  EXPECT_EQ(slot.error().code, BusErrc::ring_full);
  EXPECT_GE(waited, 45ms);
  EXPECT_EQ(ring.header().counters.rejected.load(), 1U);
  Consumer consumer(ring);
  EXPECT_EQ(consumer.try_claim()->info().meta.user[1], 0U);  // nothing was lost
}

TEST(Ring, QueueDropOldestOverwritesTheOldestUnclaimedFrame) {
  TempShmDir dir;
  auto ring = FrameRing::create(options(dir, Delivery::queue, 2)).value();
  auto producer = Producer::attach(ring).value();
  publish(producer, 0);
  publish(producer, 1);
  publish(producer, 2);  // waits 50 ms, then drops frame 0
  Consumer consumer(ring);
  EXPECT_EQ(consumer.try_claim()->info().meta.user[1], 1U);
  EXPECT_EQ(consumer.try_claim()->info().meta.user[1], 2U);
  EXPECT_EQ(ring.header().counters.dropped.load(), 1U);
}

TEST(Ring, QueueProducerWakesWhenAConsumerReleases) {
  TempShmDir dir;
  auto o = options(dir, Delivery::queue, 1);
  o.queue_wait = 5000ms;
  auto ring = FrameRing::create(o).value();
  auto producer = Producer::attach(ring).value();
  publish(producer, 0);
  std::thread consumer_thread([&] {
    std::this_thread::sleep_for(30ms);
    Consumer consumer(ring);
    auto claim = consumer.try_claim();
    ASSERT_TRUE(claim);
  });
  const auto t0 = std::chrono::steady_clock::now();
  publish(producer, 1);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2000ms);  // woken, not timed out
  consumer_thread.join();
  EXPECT_EQ(ring.header().counters.dropped.load(), 0U);
}

TEST(Ring, ASleepingConsumerIsWokenByAPublish) {
  TempShmDir dir;
  auto ring = FrameRing::create(options(dir, Delivery::queue, 4)).value();
  auto producer = Producer::attach(ring).value();
  std::uint64_t got = 99;
  std::thread consumer_thread([&] {
    Consumer consumer(ring);
    auto claim = consumer.claim(10s);
    ASSERT_TRUE(claim) << claim.error().message;
    got = claim->info().meta.user[1];
  });
  std::this_thread::sleep_for(50ms);
  publish(producer, 7);
  consumer_thread.join();
  EXPECT_EQ(got, 7U);
}

TEST(Ring, ExpiredLeaseIsReclaimedAndRedeliveredInQueueMode) {
  TempShmDir dir;
  auto o = options(dir, Delivery::queue, 2);
  o.lease = 30ms;
  auto ring = FrameRing::create(o).value();
  auto producer = Producer::attach(ring).value();
  Consumer consumer(ring);
  publish(producer, 5);
  auto late = consumer.try_claim();
  ASSERT_TRUE(late);
  EXPECT_EQ(ring.reclaim_stale_claims(), 0U);  // lease still running (this pid is alive)
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(ring.reclaim_stale_claims(), 1U);
  auto again = consumer.try_claim();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->info().meta.user[1], 5U);
  auto lost = late->release();
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().code, BusErrc::claim_lost);
  EXPECT_EQ(ring.header().counters.reclaimed.load(), 1U);
}

TEST(Ring, RenewKeepsAClaim) {
  TempShmDir dir;
  auto o = options(dir, Delivery::queue, 2);
  o.lease = 60ms;
  auto ring = FrameRing::create(o).value();
  auto producer = Producer::attach(ring).value();
  Consumer consumer(ring);
  publish(producer, 1);
  auto claim = consumer.try_claim();
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(30ms);
    claim->renew();
    EXPECT_EQ(ring.reclaim_stale_claims(), 0U);
  }
  EXPECT_TRUE(claim->release());
}

TEST(Ring, ClaimAnyServesEveryRingAndSleepsOnAllOfThem) {
  TempShmDir dir;
  auto a = FrameRing::create(options(dir, Delivery::queue, 8, "shmyolo.t.a")).value();
  auto b = FrameRing::create(options(dir, Delivery::queue, 8, "shmyolo.t.b")).value();
  auto pa = Producer::attach(a).value();
  auto pb = Producer::attach(b).value();
  for (std::uint64_t i = 0; i < 4; ++i) {
    publish(pa, i);
    publish(pb, 100 + i);
  }
  Consumer ca(a);
  Consumer cb(b);
  std::vector<Consumer*> both{&ca, &cb};
  int from_a = 0;
  int from_b = 0;
  for (int i = 0; i < 4; ++i) {  // half of the frames: both rings must be served
    auto claim = claim_any(both, 1s);
    ASSERT_TRUE(claim);
    (&claim->ring() == &a ? from_a : from_b)++;
  }
  EXPECT_EQ(from_a, 2);
  EXPECT_EQ(from_b, 2);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(claim_any(both, 1s));
  std::thread late([&] {
    std::this_thread::sleep_for(50ms);
    publish(pb, 999);
  });
  const auto t0 = std::chrono::steady_clock::now();
  auto claim = claim_any(both, 5s);
  late.join();
  ASSERT_TRUE(claim);
  EXPECT_EQ(claim->info().meta.user[1], 999U);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
}

// A ring that follows an empty one is served in its turn, not once for
// itself and once for the empty ring before it.
TEST(Ring, ClaimAnyTakesTurnsPastAnEmptyRing) {
  TempShmDir dir;
  auto empty = FrameRing::create(options(dir, Delivery::queue, 8, "shmyolo.t.e")).value();
  auto b = FrameRing::create(options(dir, Delivery::queue, 8, "shmyolo.t.b")).value();
  auto c = FrameRing::create(options(dir, Delivery::queue, 8, "shmyolo.t.c")).value();
  auto pb = Producer::attach(b).value();
  auto pc = Producer::attach(c).value();
  for (std::uint64_t i = 0; i < 6; ++i) {
    publish(pb, i);
    publish(pc, 100 + i);
  }
  Consumer ce(empty);
  Consumer cb(b);
  Consumer cc(c);
  std::vector<Consumer*> all{&ce, &cb, &cc};
  int from_b = 0;
  for (int i = 0; i < 6; ++i) {
    auto claim = claim_any(all, 1s);
    ASSERT_TRUE(claim);
    from_b += &claim->ring() == &b;
  }
  EXPECT_EQ(from_b, 3);
}

TEST(Ring, ClosingWakesConsumersAfterTheyDrain) {
  TempShmDir dir;
  std::optional<FrameRing> owner(FrameRing::create(options(dir, Delivery::queue, 4)).value());
  auto attached = FrameRing::attach("shmyolo.t.r", dir.path()).value();
  {
    auto producer = Producer::attach(*owner).value();
    publish(producer, 1);
  }
  std::thread closer([&] {
    std::this_thread::sleep_for(50ms);
    owner.reset();
  });
  Consumer consumer(attached);
  auto first = consumer.claim(5s);
  ASSERT_TRUE(first);  // the frame published before closing still arrives
  first->release();
  auto next = consumer.claim(5s);
  closer.join();
  ASSERT_FALSE(next);
  EXPECT_EQ(next.error().code, BusErrc::closed);
}

TEST(Ring, OneProducerPerRing) {
  TempShmDir dir;
  auto ring = FrameRing::create(options(dir, Delivery::queue, 4)).value();
  auto first = Producer::attach(ring);
  ASSERT_TRUE(first);
  auto other = FrameRing::attach("shmyolo.t.r", dir.path()).value();
  // Same pid re-attaching is allowed; a different live pid is not (tested in multiprocess_test).
  EXPECT_TRUE(Producer::attach(other));
}

// Workers that keep up leave every slot free between frames. The producer
// takes free slots in rotation, so the frame a worker has finished with is
// still there, whole, while the next one is written: a dashboard always has
// a frame to show.
TEST(Ring, PeekFindsTheLastFrameWhileTheNextIsWritten) {
  TempShmDir dir;
  auto ring = FrameRing::create(options(dir, Delivery::latest, 3)).value();
  auto producer = Producer::attach(ring).value();
  Consumer consumer(ring);
  std::vector<std::byte> copy(ring.geometry().frame_bytes);
  EXPECT_FALSE(peek_latest(ring, copy)) << "nothing published yet";
  for (std::uint64_t i = 0; i < 10; ++i) {
    publish(producer, i);
    auto claim = consumer.try_claim();
    ASSERT_TRUE(claim);
    ASSERT_TRUE(claim->release());   // every slot free again
    auto next = producer.acquire();  // the next frame is being written
    ASSERT_TRUE(next);
    const auto info = peek_latest(ring, copy);
    ASSERT_TRUE(info) << "frame " << i << ": no frame to peek while the next is written";
    EXPECT_EQ(info->meta.user[1], i);
    EXPECT_TRUE(test::check_frame(copy, info->meta.user[1], info->meta.user[0]));
    producer.abandon(*next);
  }
}

// A feed: readers follow a latest ring without claiming, each seeing every
// frame still held, in order, and the gap when they fall behind.
TEST(Ring, ReadersFollowALatestRingWithoutClaimingAndSeeWhatTheyMissed) {
  TempShmDir dir;
  auto ring = FrameRing::create(options(dir, Delivery::latest, 4)).value();
  auto producer = Producer::attach(ring).value();
  std::vector<std::byte> copy(ring.geometry().frame_bytes);
  EXPECT_EQ(peek_from(ring, 0, copy).error().code, BusErrc::timeout) << "nothing published yet";
  for (std::uint64_t i = 0; i < 3; ++i) publish(producer, i);
  for (std::uint64_t seq = 0; seq < 3; ++seq) {  // two readers, each sees all three
    for (int reader = 0; reader < 2; ++reader) {
      const auto info = peek_from(ring, seq, copy);
      ASSERT_TRUE(info);
      EXPECT_EQ(info->frame_seq, seq);
      EXPECT_TRUE(test::check_frame(copy, info->meta.user[1], info->meta.user[0]));
    }
  }
  EXPECT_EQ(peek_from(ring, 3, copy).error().code, BusErrc::timeout) << "nothing after the newest";
  for (std::uint64_t i = 3; i < 10; ++i) publish(producer, i);
  const auto oldest = peek_from(ring, 3, copy);  // frames 3..5 were overwritten: 4 slots hold 6..9
  ASSERT_TRUE(oldest);
  EXPECT_EQ(oldest->frame_seq, 6U);
  EXPECT_EQ(ring.header().counters.claimed.load(), 0U) << "readers claim nothing";
}

TEST(Ring, AWaitingReaderIsWokenByAPublishAndToldOfAClose) {
  TempShmDir dir;
  auto ring = FrameRing::create(options(dir, Delivery::latest, 4)).value();
  auto producer = Producer::attach(ring).value();
  std::thread later([&] {
    std::this_thread::sleep_for(50ms);
    publish(producer, 0);
  });
  std::vector<std::byte> copy(ring.geometry().frame_bytes);
  const auto start = std::chrono::steady_clock::now();
  const auto info = wait_from(ring, 0, copy, 10s);
  later.join();
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->frame_seq, 0U);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s) << "woken by the doorbell, not the timeout";
  EXPECT_EQ(wait_from(ring, 1, copy, 20ms).error().code, BusErrc::timeout);
  ring.close();
  const auto closed = wait_from(ring, 1, copy, 10s);
  ASSERT_FALSE(closed);
  EXPECT_EQ(closed.error().code, BusErrc::closed);
  EXPECT_TRUE(wait_from(ring, 0, copy, 10s)) << "what the ring still holds stays readable after the close";
}

TEST(Ring, PeekNeverReturnsATornFrame) {
  TempShmDir dir;
  auto o = options(dir, Delivery::latest, 3);
  o.width = 256;
  o.height = 64;
  auto ring = FrameRing::create(o).value();
  auto producer = Producer::attach(ring).value();
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (std::uint64_t i = 0; !stop.load(); ++i) publish(producer, i);
  });
  std::vector<std::byte> copy(ring.geometry().frame_bytes);
  int peeks = 0;
  const auto until = std::chrono::steady_clock::now() + 300ms;
  while (std::chrono::steady_clock::now() < until) {
    auto info = peek_latest(ring, copy);
    if (!info) continue;
    ++peeks;
    ASSERT_TRUE(test::check_frame(copy, info->meta.user[1], info->meta.user[0])) << "frame " << info->meta.user[1];
  }
  stop = true;
  writer.join();
  EXPECT_GT(peeks, 0);
}

TEST(Ring, ProducerDeathMakesTheRingStale) {
  TempShmDir dir;
  auto ring = FrameRing::create(options(dir, Delivery::queue, 4)).value();
  const pid_t child = ::fork();
  if (child == 0) {
    auto attached = FrameRing::attach("shmyolo.t.r", dir.path());
    auto producer = Producer::attach(*attached);
    _exit(producer ? 0 : 1);  // dies holding the producer role
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(ring.health(), RingHealth::stale);
  Consumer consumer(ring);
  auto claim = consumer.claim(2s);
  ASSERT_FALSE(claim);
  EXPECT_EQ(claim.error().code, BusErrc::producer_gone);
  EXPECT_NE(claim.error().message.find(std::to_string(child)), std::string::npos);
  // A restarted producer takes the role over.
  EXPECT_TRUE(Producer::attach(ring));
}

// Across pid namespaces (containers) the bus cannot judge pids, so a dead
// claimer's frame would wait for its lease; the parent that reaped it says
// so with reclaim_claims_of and the frame is ready again at once.
TEST(Ring, ClaimsOfAReapedProcessComeBackAtOnceEvenAcrossNamespaces) {
  TempShmDir dir;
  auto o = options(dir, Delivery::queue, 2);
  o.lease = 60s;
  auto ring = FrameRing::create(o).value();
  ring.header().mixed_pid_namespaces.store(1);  // as when a container's process attached
  auto producer = Producer::attach(ring).value();
  publish(producer, 7);
  const pid_t child = ::fork();
  if (child == 0) {
    auto attached = FrameRing::attach("shmyolo.t.r", dir.path());
    Consumer consumer(*attached);
    auto claim = consumer.try_claim();
    _exit(claim ? 0 : 1);  // dies holding the claim
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(ring.reclaim_stale_claims(), 0U);         // pids not comparable, lease running
  EXPECT_EQ(ring.reclaim_claims_of(::getpid()), 0U);  // not the claimer
  EXPECT_EQ(ring.reclaim_claims_of(child), 1U);
  Consumer consumer(ring);
  auto again = consumer.try_claim();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->info().meta.user[1], 7U);
}
