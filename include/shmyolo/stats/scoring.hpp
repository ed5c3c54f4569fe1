// Precision and recall of detections against ground truth, the way the demo
// and the tests judge the bundled model: a detection is a true positive when
// it overlaps an unmatched true box of its class with IoU >= the threshold
// (greedy, highest score first); a detection of a mostly hidden object
// (visible < ingest::kMinLabelledVisibility) counts neither way.
#pragma once

#include <cstdint>
#include <span>

#include <shmyolo/detect/types.hpp>
#include <shmyolo/ingest/synthetic_camera.hpp>

namespace shmyolo::stats {

struct Tally {
  std::uint64_t true_positives = 0;
  std::uint64_t false_positives = 0;
  std::uint64_t false_negatives = 0;

  // 1 when there is nothing to count: no detection is a perfect precision.
  [[nodiscard]] double precision() const;
  [[nodiscard]] double recall() const;
  Tally& operator+=(const Tally& other);
};

[[nodiscard]] Tally score(std::span<const detect::Detection> detections, std::span<const ingest::GroundTruth> truth,
                          float iou_threshold = 0.5F);

}  // namespace shmyolo::stats
