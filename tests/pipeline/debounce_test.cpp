// A Modbus alarm's debounce on times alone: the bit sets only after the
// condition has held on_after, clears only after it has been gone off_after,
// and a flicker shorter than either changes nothing.
#include <gtest/gtest.h>

#include "../../src/pipeline/debounce.hpp"

namespace shmyolo::pipeline {
namespace {

constexpr std::uint64_t kMs = 1'000'000;

TEST(Debounce, SetsAfterOnAfterAndClearsAfterOffAfter) {
  Debounce bit(0.3, 1.0);
  bit.observe(true, 0);
  EXPECT_FALSE(bit.settle(299 * kMs));
  EXPECT_FALSE(bit.on());
  EXPECT_TRUE(bit.settle(300 * kMs));
  EXPECT_TRUE(bit.on());
  EXPECT_FALSE(bit.settle(301 * kMs));  // no change to report twice
  bit.observe(false, 500 * kMs);
  EXPECT_FALSE(bit.settle(1499 * kMs));
  EXPECT_TRUE(bit.on());  // still set: the condition has been gone less than off_after
  EXPECT_TRUE(bit.settle(1500 * kMs));
  EXPECT_FALSE(bit.on());
}

TEST(Debounce, AFlickerShorterThanTheDelaysChangesNothing) {
  Debounce bit(0.3, 1.0);
  for (std::uint64_t t = 0; t < 3000; t += 200) {  // true for 100 ms, false for 100 ms, over and over
    bit.observe(true, t * kMs);
    EXPECT_FALSE(bit.settle((t + 99) * kMs));
    bit.observe(false, (t + 100) * kMs);
    EXPECT_FALSE(bit.settle((t + 199) * kMs));
  }
  EXPECT_FALSE(bit.on());
  bit.observe(true, 4000 * kMs);
  ASSERT_TRUE(bit.settle(4300 * kMs));
  for (std::uint64_t t = 4400; t < 8000; t += 400) {  // gone for 300 ms at a time: shorter than off_after
    bit.observe(false, t * kMs);
    EXPECT_FALSE(bit.settle((t + 299) * kMs));
    bit.observe(true, (t + 300) * kMs);
    EXPECT_FALSE(bit.settle((t + 399) * kMs));
  }
  EXPECT_TRUE(bit.on());
}

TEST(Debounce, ZeroDelaysFollowTheConditionAtOnce) {
  Debounce bit(0, 0);
  bit.observe(true, 5);
  EXPECT_TRUE(bit.settle(5));
  bit.observe(false, 6);
  EXPECT_TRUE(bit.settle(6));
  EXPECT_FALSE(bit.on());
}

}  // namespace
}  // namespace shmyolo::pipeline
