// Turning raw model outputs into detections: one decoder per output layout,
// then class-aware non-maximum suppression.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <shmyolo/detect/model.hpp>
#include <shmyolo/detect/types.hpp>

namespace shmyolo::detect {

struct OutputTensor {
  const float* data = nullptr;
  std::vector<std::int64_t> shape;

  [[nodiscard]] std::int64_t elements() const;
};

// "[1,84,8400]", for messages.
[[nodiscard]] std::string shape_text(const std::vector<std::int64_t>& shape);

struct Candidate {
  Box box;  // input-tensor pixels
  float score = 0;
  int class_id = 0;
};

struct DecodeParams {
  float confidence = 0.25F;
  std::vector<bool> keep_class;        // empty: every class
  std::size_t max_candidates = 30000;  // Ultralytics' max_nms: bounds NMS time on noisy outputs
};

// Appends image `batch_index`'s candidates above the confidence threshold.
// Checks every shape against the layout first: a mismatch is an error, never
// an out-of-bounds read.
[[nodiscard]] DetectResult<void> decode(const ModelInfo& model, std::span<const OutputTensor> outputs, int batch_index,
                                        const DecodeParams& params, std::vector<Candidate>& out);

// Greedy NMS per class, highest score first; keeps at most max_detections.
[[nodiscard]] std::vector<Candidate> non_max_suppression(std::vector<Candidate> candidates, float iou_threshold,
                                                         std::size_t max_detections);

}  // namespace shmyolo::detect
