// What a detector knows about its model: read from the model where possible
// (input shape, outputs, Ultralytics metadata), overridable by options.
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <shmyolo/detect/types.hpp>

namespace shmyolo::detect {

enum class Engine { onnxruntime, opencv };

enum class OutputLayout {
  yolov5,      // [1, N, 5+nc]: cx, cy, w, h (input pixels), objectness, class scores
  yolov8,      // [1, 4+nc, N]: cx, cy, w, h, class scores (v8, v9, YOLO11)
  end_to_end,  // [1, K, 6]: x1, y1, x2, y2, score, class (YOLOv10, NMS-free exports)
  yolox,       // [1, N, 5+nc]: raw grid offsets, objectness, class scores (strides 8/16/32)
  darknet,     // OpenCV region layers: [N, 5+nc] per head, normalised boxes, scores x objectness
  fastestv2,   // Yolo-FastestV2 [cells, 15+nc]: 3 anchors per cell, shared class scores
};

// How pixels become the input tensor.
struct Preprocessing {
  bool rgb = true;               // channel order the model wants
  float scale = 1.0F / 255.0F;   // multiplied into every value
  bool letterbox = true;         // keep the aspect ratio and pad; false: stretch to the input size
  bool centered = true;          // letterbox padding on both sides (Ultralytics) or right/bottom (YOLOX)
  std::uint8_t pad_value = 114;  // Ultralytics' and YOLOX's letterbox grey
};

struct ModelOptions {
  std::filesystem::path path;  // .onnx, or a Darknet .cfg (its .weights beside it) for OpenCV
  Engine engine = Engine::onnxruntime;
  int threads = 1;                       // intra-op threads
  bool allow_spinning = false;           // ORT: busy-wait between ops (see docs/benchmarks.md)
  std::optional<OutputLayout> layout{};  // override the inferred layout
  std::optional<int> input_size{};       // for models whose input size is not fixed
  std::filesystem::path names_file{};    // one class name per line; overrides metadata
};

struct ModelInfo {
  std::filesystem::path path;
  Engine engine = Engine::onnxruntime;
  std::string input_name;
  int input_width = 0;
  int input_height = 0;
  bool dynamic_batch = false;
  std::vector<std::string> output_names;
  std::vector<std::vector<std::int64_t>> output_shapes;
  OutputLayout layout = OutputLayout::yolov8;
  int num_classes = 0;
  std::vector<std::string> names;  // class names; "class<i>" when unknown
  std::vector<int> strides;        // grid strides (YOLOX, YOLO-FastestV2)
  std::string task;                // Ultralytics metadata, e.g. "detect"
  std::string description;         // Ultralytics metadata
  Preprocessing preprocessing;
  std::vector<std::string> notes;  // what the loader decided and why
};

// Names, aliases and preprocessing come from the layout registry (layouts.cpp).
[[nodiscard]] std::string to_string(OutputLayout layout);
[[nodiscard]] std::optional<OutputLayout> parse_layout(std::string_view text);
[[nodiscard]] std::string to_string(Engine engine);

// The preprocessing a layout's models expect.
[[nodiscard]] Preprocessing preprocessing_for(OutputLayout layout);

// A class the model has, named or numbered ("person" or "0"), as its id: the
// one parser behind model.classes, --classes and the HTTP `classes` field.
[[nodiscard]] std::optional<int> class_id(const std::vector<std::string>& names, std::string_view text);
// Every wanted class as an id, or the first one the model does not have.
[[nodiscard]] DetectResult<std::vector<int>> class_ids(const std::vector<std::string>& names,
                                                       const std::vector<std::string>& wanted);

// "RGB, /255, centred letterbox, pad 114": for `models inspect` and the docs.
[[nodiscard]] std::string to_string(const Preprocessing& p);

}  // namespace shmyolo::detect
