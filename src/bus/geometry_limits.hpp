// Bounds and arithmetic the ring's geometry shares between planning a ring
// (layout.cpp) and creating its segment (frame_ring.cpp).
#pragma once

#include <cstdint>

namespace shmyolo::bus::detail {

constexpr std::uint64_t round_up(std::uint64_t value, std::uint64_t multiple) {
  return (value + multiple - 1) / multiple * multiple;
}

// Fixed-point bounds that keep every product below 2^63 without overflow checks.
constexpr std::uint32_t kMaxRowStride = 1U << 26;
constexpr std::uint32_t kMaxPolicyMs = 24U * 3600U * 1000U;

}  // namespace shmyolo::bus::detail
