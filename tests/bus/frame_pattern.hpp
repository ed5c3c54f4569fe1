// Frames whose every byte is checkable: xorshift64 noise seeded by the frame
// index, and a checksum over all of it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace shmyolo::bus::test {

inline std::uint64_t mix(std::uint64_t h, std::uint64_t v) {
  return (h ^ v) * 0x100000001B3ULL;  // FNV-1a 64-bit prime, word-wise
}

inline std::uint64_t checksum(std::span<const std::byte> bytes) {
  std::uint64_t h = 0xCBF29CE484222325ULL;  // FNV-1a 64-bit offset basis
  std::size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    std::uint64_t w = 0;
    std::memcpy(&w, bytes.data() + i, 8);
    h = mix(h, w);
  }
  for (; i < bytes.size(); ++i) h = mix(h, static_cast<std::uint64_t>(bytes[i]));
  return h;
}

// Fills `px` from seed `index`; returns the checksum of what it wrote.
inline std::uint64_t fill_frame(std::span<std::byte> px, std::uint64_t index) {
  std::uint64_t x = index * 0x9E3779B97F4A7C15ULL + 1;  // golden-ratio spread; never 0
  std::size_t i = 0;
  for (; i + 8 <= px.size(); i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(px.data() + i, &x, 8);
  }
  for (; i < px.size(); ++i) px[i] = static_cast<std::byte>(index);
  return checksum(px);
}

// True when the bytes are the complete frame `index` with checksum `sum`.
inline bool check_frame(std::span<const std::byte> px, std::uint64_t index, std::uint64_t sum) {
  if (checksum(px) != sum) return false;
  std::uint64_t x = index * 0x9E3779B97F4A7C15ULL + 1;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  std::uint64_t first = 0;
  if (px.size() >= 8) std::memcpy(&first, px.data(), 8);
  return px.size() < 8 || first == x;
}

}  // namespace shmyolo::bus::test
