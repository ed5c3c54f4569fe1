// The multi-process streaming tests' ring, what bus_peer's consumers wrote
// (tests/bus/peer.cpp: a line "INDEX INTACT" per frame claimed), and the
// checks made of it, on Linux and under Wine alike.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <shmyolo/bus/ring.hpp>

namespace shmyolo::bus::test {

// The streaming tests' ring: small frames, 6 slots, a producer that waits up
// to 10 s for a free slot.
inline RingOptions stream_ring_options(const std::string& name, Delivery delivery) {
  return {.name = name,
          .width = 64,
          .height = 48,
          .slot_count = 6,
          .delivery = delivery,
          .queue_wait = std::chrono::seconds(10)};
}

struct Received {
  std::map<std::uint64_t, int> count;  // frame index -> times received
  std::uint64_t torn = 0;
  std::uint64_t total = 0;
};

inline void read_received(const std::filesystem::path& file, Received& r) {
  std::ifstream in(file);
  std::uint64_t index = 0;
  int intact = 0;
  while (in >> index >> intact) {
    ++r.count[index];
    ++r.total;
    if (intact == 0) ++r.torn;
  }
}

// Queue delivery: each of `frames` frames once, whole; none lost.
inline void expect_every_frame_once(const Received& r, std::uint64_t frames) {
  EXPECT_EQ(r.torn, 0U);
  EXPECT_EQ(r.total, frames);
  EXPECT_EQ(r.count.size(), frames);  // none lost
  for (const auto& [index, n] : r.count) ASSERT_EQ(n, 1) << "frame " << index << " delivered " << n << " times";
}

// Latest delivery with consumers slower than the camera: frames are dropped,
// never torn or doubled.
inline void expect_none_torn_or_doubled(const Received& r) {
  EXPECT_EQ(r.torn, 0U);
  EXPECT_GT(r.total, 0U);
  for (const auto& [index, n] : r.count) ASSERT_EQ(n, 1) << "frame " << index << " delivered " << n << " times";
}

}  // namespace shmyolo::bus::test
