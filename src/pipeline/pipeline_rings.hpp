// The rings a supervisor holds, as one set: created from the ring layout by
// the owner, or attached by name by `--role workers`, which only needs them
// to take back a dead worker's frames. The checks the supervisor makes on
// them each tick (removed, damaged, drained) are here too.
// The detections feed is created and checked with them by the owner.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include <shmyolo/bus/ring.hpp>

#include "ring_layout.hpp"

namespace shmyolo::pipeline {

// A ring whose header no longer reads as the ring it was (scribbled on).
struct DamagedRing {
  enum class Kind { camera, results, uploads, feed } kind;
  std::size_t index = 0;  // camera or worker
  std::string why;
};

class PipelineRings {
 public:
  PipelineRings() = default;  // none: --role workers before the other side's rings appear
  // Prints why and returns nothing when a ring cannot be created.
  [[nodiscard]] static std::optional<PipelineRings> create(const RingLayout& layout);
  // Quietly nothing while a ring is missing or not yet valid.
  [[nodiscard]] static std::optional<PipelineRings> attach(const RingLayout& layout);

  // Frames a reaped process held go back to their rings now. Within one pid
  // namespace the bus would notice the dead pid by itself; across containers
  // (--role workers) only the supervisor knows it is dead.
  void take_back_frames_of(pid_t pid) const;

  // No queue-mode frame is waiting or being worked on, and no result is
  // waiting for the aggregator. Camera frames count only below the sequence
  // numbers seq_limits() gave at the stop: a camera fed from outside may
  // still publish, and what comes after the stop is not waited for.
  [[nodiscard]] bool queues_drained(const std::vector<std::uint64_t>& camera_limits) const;
  // Each camera ring's next sequence number now.
  [[nodiscard]] std::vector<std::uint64_t> seq_limits() const;
  // A ring's file was unlinked or replaced under the pipeline.
  [[nodiscard]] std::optional<std::string> removed_segment() const;
  // Rings whose header was scribbled on: no process could attach them again.
  [[nodiscard]] std::vector<DamagedRing> damaged() const;
  // Replaces a damaged ring by a fresh one of the layout's options under the
  // same name, carrying its counters over; frames waiting in it are counted
  // as dropped and returned. Prints why and returns nothing on failure.
  [[nodiscard]] std::optional<std::uint32_t> recreate(const DamagedRing& damage, const RingLayout& layout);
  // Whether a workers process beats on any results ring (--role ingest).
  [[nodiscard]] bool results_heartbeating() const;
  // Owner: marks every ring closed and unlinks it.
  void close();

  [[nodiscard]] const std::vector<bus::FrameRing>& cameras() const { return cameras_; }

 private:
  std::vector<bus::FrameRing> cameras_;
  std::vector<bus::FrameRing> results_;
  std::optional<bus::FrameRing> uploads_;
  std::optional<bus::FrameRing> feed_;  // the owner's only: --role workers does not use it
};

}  // namespace shmyolo::pipeline
