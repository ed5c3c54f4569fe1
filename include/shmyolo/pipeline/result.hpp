// What a worker hands the aggregator for each frame: a fixed-size record
// written straight into a slot of the worker's results ring (an opaque ring
// in queue mode), so results travel the same way frames do, with no sockets.
#pragma once

#include <array>
#include <cstdint>
#include <type_traits>

#include <shmyolo/detect/types.hpp>

namespace shmyolo::pipeline {

struct ResultDetection {
  std::int32_t class_id;
  float score;
  float x1, y1, x2, y2;  // original-frame pixels
};

// Whose frame a result is for.
enum class ResultOrigin : std::uint32_t {
  camera_frame = 1,  // a frame of camera `camera`
  upload = 2,        // an HTTP upload: source_index is the request's id
};

struct ResultRecord {
  static constexpr std::uint32_t kMaxDetections = 1000;  // the config's max_detections limit

  ResultOrigin origin;
  std::uint32_t camera;  // camera frames: index in the config's camera list
  std::uint32_t worker;
  // 0: the detections are the frame's. Otherwise inference failed and there
  // are none: 1 + the detect::DetectErrc (failure_of / failure_code).
  std::uint32_t failure;
  std::uint64_t frame_seq;     // the ring's sequence number: unique per camera and ring
  std::uint64_t source_index;  // camera frames: the source's frame number (after restarts it starts again)
  std::uint64_t capture_unix_ns;
  // CLOCK_MONOTONIC stamps along the way.
  std::uint64_t capture_mono_ns;
  std::uint64_t publish_mono_ns;  // written into the slot and published by ingest
  std::uint64_t claim_mono_ns;    // claimed by a worker
  std::uint64_t done_mono_ns;     // detections ready
  float preprocess_ms;
  float inference_ms;  // a batch's inference time is shared by its frames
  float postprocess_ms;
  std::uint32_t source_width;
  std::uint32_t source_height;
  std::uint32_t batch_size;
  std::uint32_t count;  // detections used
  std::array<ResultDetection, kMaxDetections> detections;
};

static_assert(std::is_trivially_copyable_v<ResultRecord>, "records are copied through shared memory");

[[nodiscard]] constexpr std::uint32_t failure_of(detect::DetectErrc code) {
  return static_cast<std::uint32_t>(code) + 1;
}
// The failure's code; only for a record whose failure is not 0.
[[nodiscard]] constexpr detect::DetectErrc failure_code(std::uint32_t failure) {
  return static_cast<detect::DetectErrc>(failure - 1);
}

}  // namespace shmyolo::pipeline
