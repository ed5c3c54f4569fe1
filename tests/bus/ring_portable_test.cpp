// The ring on every system: the same test in the Linux suite (files in
// /dev/shm) and, cross-built, under Wine (named file mappings). One process
// here; another process claims across the boundary in
// Ring.AnotherProcessClaimsWhatThisOnePublished (tests/windows, and the
// multi-process tests of the Linux suite).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include <shmyolo/bus/ring.hpp>

#include "../../src/bus/process.hpp"

namespace shmyolo::bus {
namespace {

using namespace std::chrono_literals;

std::string unique_name(const char* what) {
  return std::string("shmyolo.portable-") + std::to_string(detail::self_pid()) + "." + what;
}

RingOptions options(const std::string& name, Delivery delivery) {
  RingOptions o;
  o.name = name;
  o.width = 64;
  o.height = 16;
  o.slot_count = 4;
  o.delivery = delivery;
  o.queue_wait = 50ms;
  return o;
}

std::uint64_t publish_filled(Producer& producer, std::uint8_t value) {
  auto slot = producer.acquire();
  EXPECT_TRUE(slot) << slot.error().message;
  if (!slot) return 0;
  std::memset(slot->pixels().data(), value, slot->pixels().size());
  return producer.publish(*slot, {});
}

bool filled_with(std::span<const std::byte> pixels, std::uint8_t value) {
  for (const std::byte b : pixels) {
    if (b != std::byte{value}) return false;
  }
  return true;
}

TEST(PortableRing, ASecondMappingByNameSeesTheSameBytes) {
  auto ring = FrameRing::create(options(unique_name("a"), Delivery::queue)).value();
  auto again = FrameRing::attach(ring.name(), ring.path().parent_path());
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->geometry().frame_bytes, 64U * 16U * 3U);
  auto producer = Producer::attach(ring).value();
  publish_filled(producer, 7);
  Consumer consumer(*again);
  auto claim = consumer.try_claim();
  ASSERT_TRUE(claim);
  EXPECT_TRUE(filled_with(claim->pixels(), 7));
}

TEST(PortableRing, QueueDeliversEveryFrameInOrder) {
  auto ring = FrameRing::create(options(unique_name("q"), Delivery::queue)).value();
  auto producer = Producer::attach(ring).value();
  Consumer consumer(ring);
  for (std::uint8_t i = 0; i < 3; ++i) publish_filled(producer, i);
  for (std::uint8_t i = 0; i < 3; ++i) {
    auto claim = consumer.try_claim();
    ASSERT_TRUE(claim);
    EXPECT_TRUE(filled_with(claim->pixels(), i));
  }
  EXPECT_EQ(consumer.try_claim().error().code, BusErrc::timeout);
}

TEST(PortableRing, ASleepingConsumerIsWokenByAPublish) {
  auto ring = FrameRing::create(options(unique_name("w"), Delivery::latest)).value();
  auto producer = Producer::attach(ring).value();
  std::thread later([&] {
    std::this_thread::sleep_for(50ms);
    publish_filled(producer, 9);
  });
  Consumer consumer(ring);
  const auto t0 = std::chrono::steady_clock::now();
  auto claim = consumer.claim(10s);
  later.join();
  ASSERT_TRUE(claim) << claim.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s) << "woken by the doorbell, not a timeout";
}

TEST(PortableRing, ANameHeldIsRefusedAndAMissingOneIsSaid) {
  auto ring = FrameRing::create(options(unique_name("n"), Delivery::latest)).value();
  auto twice = FrameRing::create(options(ring.name(), Delivery::latest));
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code, BusErrc::already_exists);
  auto missing = FrameRing::attach(unique_name("missing"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, BusErrc::not_found);
  EXPECT_NE(missing.error().message.find(unique_name("missing")), std::string::npos) << missing.error().message;
}

TEST(PortableRing, ClosingWakesAWaitingConsumer) {
  auto ring = FrameRing::create(options(unique_name("c"), Delivery::queue)).value();
  auto reader = FrameRing::attach(ring.name(), ring.path().parent_path()).value();
  std::thread closer([&] {
    std::this_thread::sleep_for(50ms);
    ring.close();
  });
  Consumer consumer(reader);
  const auto t0 = std::chrono::steady_clock::now();
  auto claim = consumer.claim(10s);
  closer.join();
  ASSERT_FALSE(claim);
  EXPECT_EQ(claim.error().code, BusErrc::closed);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

}  // namespace
}  // namespace shmyolo::bus
