// The detections feed: every camera result the aggregator gives out, in each
// camera's frame order and with its track ids, written into one opaque ring
// in latest mode, "shmyolo.<pipeline>.detections". Readers outside the
// pipeline (the Python package, a gateway) follow it without claiming
// (bus::peek_after), so any number of them read every record while it is in
// the ring and none takes anything from the pipeline's own outputs. A reader
// that falls more than the ring's slots behind misses the oldest records,
// and knows how many from the gap in the feed ring's own sequence numbers
// (one per record).
// The bytes are documented in docs/shm-layout.md ("The detections feed").
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace shmyolo::pipeline {

struct FeedDetection {  // 32 bytes
  std::int32_t class_id;
  float score;
  float x1, y1, x2, y2;    // source-frame pixels
  std::uint64_t track_id;  // 0: no confirmed track holds the box (yet), or the camera does not track
};

inline constexpr std::uint32_t kFeedTracked = 1;  // FeedRecord::flags: track ids were assigned

struct FeedRecord {      // 64 bytes, then `count` detections
  std::uint32_t camera;  // index in the config's camera list (PipelineNames::cameras)
  std::uint32_t worker;
  std::uint64_t frame_seq;     // the camera ring's sequence number
  std::uint64_t source_index;  // the source's frame number
  std::uint64_t capture_unix_ns;
  std::uint64_t capture_mono_ns;
  std::uint64_t done_mono_ns;  // detections ready (CLOCK_MONOTONIC)
  std::uint32_t source_width;
  std::uint32_t source_height;
  std::uint32_t count;
  std::uint32_t flags;
  FeedDetection detections[1];  // NOLINT: `count` of them follow (a flexible array, sized by the ring)
};

inline constexpr std::size_t kFeedHeaderBytes = offsetof(FeedRecord, detections);
static_assert(sizeof(FeedDetection) == 32 && kFeedHeaderBytes == 64, "the feed's bytes are documented");
static_assert(std::is_trivially_copyable_v<FeedRecord>, "records are copied through shared memory");

// The slot bytes a record of `detections` boxes takes.
[[nodiscard]] constexpr std::size_t feed_record_bytes(std::size_t detections) {
  return kFeedHeaderBytes + detections * sizeof(FeedDetection);
}

}  // namespace shmyolo::pipeline
