// A YOLO detector: model, letterbox, engine, decoder and NMS in one object.
//
//   auto detector = Detector::open({.path = "yolov8n.onnx"}).value();
//   auto result = detector.detect(image_view, {.confidence = 0.25F});
//   for (const Detection& d : result->detections) ...
#pragma once

#include <memory>
#include <span>
#include <vector>

#include <shmyolo/detect/engine.hpp>
#include <shmyolo/detect/letterbox.hpp>
#include <shmyolo/detect/model.hpp>
#include <shmyolo/detect/types.hpp>

namespace shmyolo::detect {

struct DetectOptions {
  float confidence = 0.25F;
  float iou = 0.45F;
  std::size_t max_detections = 300;
  std::vector<int> classes{};  // empty: every class
};

struct StageTimes {
  double preprocess_ms = 0;
  double inference_ms = 0;
  double postprocess_ms = 0;  // decode + NMS
};

struct DetectOutput {
  std::vector<Detection> detections;
  StageTimes times;
};

class Detector {
 public:
  static DetectResult<Detector> open(const ModelOptions& options);

  [[nodiscard]] const ModelInfo& info() const { return engine_->info(); }
  [[nodiscard]] DetectResult<DetectOutput> detect(const ImageView& image, const DetectOptions& options);
  // Runs the model once on a blank input. An engine's first run allocates
  // its buffers and is several times slower than the next; a worker makes
  // that run before it takes frames.
  void warm_up();
  // Several images in one inference (models with a dynamic batch dimension).
  [[nodiscard]] DetectResult<std::vector<DetectOutput>> detect_batch(std::span<const ImageView> images,
                                                                     const DetectOptions& options);

 private:
  explicit Detector(std::unique_ptr<InferenceEngine> engine) : engine_(std::move(engine)) {}

  std::unique_ptr<InferenceEngine> engine_;
  Letterboxer letterboxer_;
};

// Ultralytics' COCO-80 class names, used for 80-class models without names.
[[nodiscard]] const std::vector<std::string>& coco_names();

}  // namespace shmyolo::detect
