// Puts each camera's results back in frame order for tracking. Workers
// finish frames out of order (two workers, a batch, a slow frame); a tracker
// must see a camera's frames in the order they were captured.
//
// A result waits, its result-ring slot still claimed, until no older frame
// of its camera can still bring one: none of that camera's frames older than
// it is ready or claimed in the camera ring. The aggregator looks at the
// camera ring first and then takes every result already published, so a
// frame a worker has finished is never missed (a worker publishes a frame's
// result before it releases the frame). Frames dropped unclaimed, and frames
// a dead worker held in latest mode, never bring a result, and hold nothing
// back once they are gone from the ring.
//
// Two limits keep a stuck worker from holding up the rest:
//   - a result waits at most kMaxOrderWait;
//   - a results ring is never more than kRingRoom of its slots held here, so
//     the worker writing into it never finds it full.
// A result let go early may overtake an older one still in work: that older
// result then comes "late" and is given out without tracking.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include <shmyolo/bus/ring.hpp>
#include <shmyolo/pipeline/result.hpp>

namespace shmyolo::pipeline {

// Longer than a frame's inference at any sane setting, short enough that a
// stuck worker delays the rest of its camera's results by at most this.
inline constexpr std::chrono::milliseconds kMaxOrderWait{1000};

struct HeldResult {
  bus::Claim claim;  // released once every output has the result
  std::unique_ptr<ResultRecord> record;
  std::size_t ring = 0;  // which results ring (worker)
  std::uint64_t held_since_ns = 0;
};

// The sequence number of the oldest frame still ready or claimed in a
// camera ring (UINT64_MAX when none): results of frames older than it have
// all been published.
[[nodiscard]] std::uint64_t oldest_in_flight(const bus::FrameRing& camera_ring);

class ResultOrder {
 public:
  // `ring_room`: results one results ring may have held here at once.
  ResultOrder(std::size_t cameras, std::size_t rings, std::size_t ring_room);

  void hold(HeldResult result);
  [[nodiscard]] bool empty() const { return held_count_ == 0; }

  // The results that may go now, each camera's oldest first: those older
  // than the camera's oldest frame in flight (`floors`, one per camera), and
  // those the limits let go. `everything`: all of them (the pipeline stops).
  [[nodiscard]] std::vector<HeldResult> take(std::span<const std::uint64_t> floors, std::uint64_t now_ns,
                                             bool everything = false);

 private:
  std::vector<std::map<std::uint64_t, HeldResult>> held_;  // per camera, by frame sequence number
  std::vector<std::size_t> per_ring_;
  std::size_t ring_room_;
  std::size_t held_count_ = 0;
};

}  // namespace shmyolo::pipeline
