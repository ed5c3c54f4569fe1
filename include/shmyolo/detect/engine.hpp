// Inference engines behind one interface: ONNX Runtime (primary) and OpenCV
// DNN (Darknet models, fallback).
#pragma once

#include <memory>
#include <vector>

#include <shmyolo/detect/decode.hpp>
#include <shmyolo/detect/model.hpp>
#include <shmyolo/detect/types.hpp>

namespace shmyolo::detect {

class InferenceEngine {
 public:
  InferenceEngine() = default;
  InferenceEngine(const InferenceEngine&) = delete;
  InferenceEngine& operator=(const InferenceEngine&) = delete;
  virtual ~InferenceEngine() = default;

  [[nodiscard]] virtual const ModelInfo& info() const = 0;
  // The input tensor for `batch` images (CHW float each), for the caller to fill.
  [[nodiscard]] virtual DetectResult<float*> input(int batch) = 0;
  // Runs the model on the input; the outputs stay valid until the next run.
  [[nodiscard]] virtual DetectResult<std::vector<OutputTensor>> run() = 0;
};

[[nodiscard]] DetectResult<std::unique_ptr<InferenceEngine>> open_engine(const ModelOptions& options);

}  // namespace shmyolo::detect
