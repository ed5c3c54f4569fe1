// What creating a ring needs on every system: the header fields its creator
// writes (frame_ring.cpp), for each platform's FrameRing::create
// (segment_posix.cpp, segment_win32.cpp).
#pragma once

#include <cstdint>

#include <shmyolo/bus/ring.hpp>

namespace shmyolo::bus::detail {

// A random number per creation: a recreated ring differs from the old one.
[[nodiscard]] std::uint64_t random_generation();
void fill_header(RingHeader& h, const RingOptions& o, const RingGeometry& g);

}  // namespace shmyolo::bus::detail
