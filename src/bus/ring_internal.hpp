// What creating and attaching a ring do on every system once the segment is
// mapped (frame_ring.cpp), for each platform's FrameRing::create and attach
// (segment_posix.cpp, segment_win32.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <shmyolo/bus/ring.hpp>

namespace shmyolo::bus::detail {

// Writes a new ring's header and slot table into the mapping at `base` and
// publishes them (the magic last). Returns the header.
RingHeader* initialise_segment(std::byte* base, const RingOptions& o, const RingGeometry& g);

// What an attacher keeps of a header it validated.
struct HeaderFacts {
  RingGeometry geometry;
  RingPolicy policy;
  RingCreator creator;
};
// Validates a private copy of the header at `base` (a scribbler cannot change
// a field between check and use); `where` names the segment in messages.
[[nodiscard]] BusResult<HeaderFacts> read_header_facts(const std::byte* base, std::uint64_t mapping_bytes,
                                                       std::string_view where);

}  // namespace shmyolo::bus::detail
