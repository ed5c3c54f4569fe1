// The decode plan's rules on times alone: the cap on a self-paced source,
// the fresh-frame rule, and auto's switch to key frames and back.
#include <gtest/gtest.h>

#include "../../src/pipeline/decode_plan.hpp"

namespace shmyolo::pipeline {
namespace {

using namespace std::chrono_literals;
using Clock = DecodePlan::Clock;
using Verdict = DecodePlan::Verdict;

const Clock::time_point t0{};

constexpr Clock::duration kFrame = 33ms;  // a 30 fps source

TEST(DecodePlan, FramesBeyondTheCapAreSkipped) {
  DecodePlan plan({.cap = 100ms, .period = 100ms, .interval = kFrame}, t0);
  int converted = 0;
  std::uint64_t claims = 0;
  for (int i = 0; i < 30; ++i) {  // one second of a 30 fps stream, each frame taken at once
    const auto now = t0 + i * kFrame;
    if (plan.on_frame(now, claims) == Verdict::convert) {
      ++converted;
      plan.on_published(now, claims);
      ++claims;
    }
  }
  EXPECT_EQ(converted, 10);
}

TEST(DecodePlan, AFrameALittleEarlyForTheCapIsTaken) {
  DecodePlan plan({.cap = 100ms, .period = 100ms, .interval = kFrame}, t0 + 1ms);
  std::uint64_t claims = 0;
  int converted = 0;
  for (int i = 0; i < 30; ++i) {  // exactly every 33.3 ms, the first a little later than the plan's start
    const auto now = t0 + std::chrono::microseconds(33'333 * i);
    if (plan.on_frame(now, claims) == Verdict::convert) {
      ++converted;
      plan.on_published(now, claims++);
    }
  }
  EXPECT_EQ(converted, 10);
}

TEST(DecodePlan, TheNextFrameIsUnusedWhenItComesBeforeTheCap) {
  DecodePlan plan({.cap = 100ms, .period = 100ms, .interval = kFrame}, t0);
  ASSERT_EQ(plan.on_frame(t0, 0), Verdict::convert);  // due next at 100 ms
  EXPECT_TRUE(plan.next_unused(t0));                  // the next comes at 33 ms
  EXPECT_TRUE(plan.next_unused(t0 + 33ms));           // ... 66 ms
  EXPECT_FALSE(plan.next_unused(t0 + 66ms));          // ... 99 ms: within half a frame of due, used
}

TEST(DecodePlan, AFreshFrameStillWaitingIsNotReplaced) {
  DecodePlan plan({.period = kFrame, .interval = kFrame}, t0);
  ASSERT_EQ(plan.on_frame(t0, 0), Verdict::convert);
  plan.on_published(t0, 0);
  EXPECT_EQ(plan.on_frame(t0 + kFrame, 0), Verdict::not_fresh);    // unclaimed, one frame old
  EXPECT_EQ(plan.on_frame(t0 + 2 * kFrame, 0), Verdict::convert);  // two frames old: replaced
  plan.on_published(t0 + 2 * kFrame, 0);
  EXPECT_EQ(plan.on_frame(t0 + 3 * kFrame, 1), Verdict::convert);  // taken: the next goes in
}

TEST(DecodePlan, QueueDeliveryConvertsEveryFrame) {
  DecodePlan plan({.latest = false, .period = kFrame, .interval = kFrame}, t0);
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(plan.on_frame(t0 + i * kFrame, 0), Verdict::convert);
    plan.on_published(t0 + i * kFrame, 0);
  }
}

TEST(DecodePlan, AutoDropsToKeyFramesWhileWorkersAreBehindAndComesBack) {
  DecodePlan plan({.mode = config::DecodeMode::automatic, .period = kFrame, .interval = kFrame}, t0);
  std::uint64_t claims = 0;
  auto now = t0;
  const auto frame = [&] {
    now += kFrame;
    const Verdict v = plan.on_frame(now, claims);
    if (v == Verdict::convert) plan.on_published(now, claims);
    return v;
  };
  // Workers take every frame: every frame decoded.
  for (int i = 0; i < 10; ++i) {
    frame();
    ++claims;
  }
  EXPECT_FALSE(plan.keyframes_only());
  // Then nothing is taken: the last claim is seen with the next frame, and
  // kBehindPeriods later, key frames only.
  for (int i = 0; i < DecodePlan::kBehindPeriods; ++i) frame();
  EXPECT_FALSE(plan.keyframes_only());
  frame();
  EXPECT_TRUE(plan.keyframes_only());
  // A key frame a second later: the one before still waits, so still key frames only.
  now += 1s;
  frame();
  EXPECT_TRUE(plan.keyframes_only());
  // It is taken; at the next key frame, every frame again.
  ++claims;
  now += 1s;
  EXPECT_EQ(frame(), Verdict::convert);
  EXPECT_FALSE(plan.keyframes_only());
}

// Key frames every 30 frames. While the workers take more of the camera's
// frames per key-frame interval than key frames alone would give, late
// claims do not drop it to key frames; once they take one or two, they do.
TEST(DecodePlan, AutoKeepsDecodingWhileWorkersTakeMoreThanKeyFramesWouldGive) {
  constexpr int kKeyInterval = 30;
  const auto until_keyframes = [](int claims_per_interval) {
    DecodePlan plan({.mode = config::DecodeMode::automatic, .period = kFrame, .interval = kFrame}, t0);
    std::uint64_t claims = 0;
    auto now = t0;
    // Two intervals in which the workers take `claims_per_interval` frames each...
    for (int i = 0; i <= 2 * kKeyInterval; ++i) {
      now += kFrame;
      if (i % kKeyInterval == 0) plan.on_key_frame(claims);
      if (plan.on_frame(now, claims) == Verdict::convert) plan.on_published(now, claims);
      if (i % kKeyInterval < claims_per_interval) ++claims;
    }
    // ...then none for far longer than the waiting rule's periods.
    for (int i = 0; i < 4 * DecodePlan::kBehindPeriods; ++i) {
      now += kFrame;
      if (plan.on_frame(now, claims) == Verdict::convert) plan.on_published(now, claims);
    }
    return plan.keyframes_only();
  };
  EXPECT_FALSE(until_keyframes(15));
  EXPECT_FALSE(until_keyframes(static_cast<int>(DecodePlan::kMostClaimsPerKeyInterval) + 1));
  EXPECT_TRUE(until_keyframes(static_cast<int>(DecodePlan::kMostClaimsPerKeyInterval)));
  EXPECT_TRUE(until_keyframes(1));
}

// A camera served less than the mean holds on to every frame longer; one
// served more lets go sooner.
TEST(DecodePlan, AutoHoldsOnLongerForACameraServedLessThanTheOthers) {
  const auto frames_until_keyframes = [](double mine, double mean) {
    DecodePlan plan({.mode = config::DecodeMode::automatic, .period = kFrame, .interval = kFrame}, t0);
    plan.share(mine, mean);
    auto now = t0;
    (void)plan.on_frame(now, 0);
    plan.on_published(now, 0);
    int frames = 0;
    while (!plan.keyframes_only() && frames < 100) {
      now += kFrame;
      if (plan.on_frame(now, 0) == Verdict::convert) plan.on_published(now, 0);
      ++frames;
    }
    return frames;
  };
  EXPECT_EQ(frames_until_keyframes(5, 5), DecodePlan::kBehindPeriods);
  EXPECT_EQ(frames_until_keyframes(2.5, 5), 2 * DecodePlan::kBehindPeriods);
  EXPECT_EQ(frames_until_keyframes(10, 5), static_cast<int>(DecodePlan::kFewestBehindPeriods));
  EXPECT_EQ(frames_until_keyframes(0, 5), static_cast<int>(DecodePlan::kMostBehindPeriods));
}

TEST(DecodePlan, KeyFramesModeStaysThere) {
  DecodePlan plan({.mode = config::DecodeMode::keyframes, .period = 1s, .interval = kFrame}, t0);
  EXPECT_TRUE(plan.keyframes_only());
  ASSERT_EQ(plan.on_frame(t0 + 1s, 0), Verdict::convert);
  plan.on_published(t0 + 1s, 0);
  EXPECT_EQ(plan.on_frame(t0 + 2s, 1), Verdict::convert);
  EXPECT_TRUE(plan.keyframes_only());
}

}  // namespace
}  // namespace shmyolo::pipeline
