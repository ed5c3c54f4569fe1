#include <shmyolo/detect/model.hpp>

#include <array>

namespace shmyolo::detect {

std::string to_string(OutputLayout layout) {
  switch (layout) {
    case OutputLayout::yolov5: return "yolov5";
    case OutputLayout::yolov8: return "yolov8";
    case OutputLayout::end_to_end: return "end2end";
    case OutputLayout::yolox: return "yolox";
    case OutputLayout::darknet: return "darknet";
    case OutputLayout::fastestv2: return "fastestv2";
  }
  return "unknown";
}

std::optional<OutputLayout> parse_layout(const std::string& text) {
  static constexpr std::array kAll{OutputLayout::yolov5, OutputLayout::yolov8,  OutputLayout::end_to_end,
                                   OutputLayout::yolox,  OutputLayout::darknet, OutputLayout::fastestv2};
  for (const auto layout : kAll) {
    if (to_string(layout) == text) return layout;
  }
  if (text == "yolo11" || text == "v8" || text == "v11") return OutputLayout::yolov8;
  if (text == "yolov10" || text == "v10") return OutputLayout::end_to_end;
  return std::nullopt;
}

std::string to_string(Engine engine) {
  return engine == Engine::onnxruntime ? "onnxruntime" : "opencv";
}

Preprocessing preprocessing_for(OutputLayout layout) {
  Preprocessing p;
  switch (layout) {
    case OutputLayout::yolov5:
    case OutputLayout::yolov8:
    case OutputLayout::end_to_end: break;  // Ultralytics: RGB, /255, centred letterbox, pad 114
    case OutputLayout::yolox:
      // YOLOX: BGR, 0..255, image at the top-left, pad 114 right and bottom.
      p.rgb = false;
      p.scale = 1.0F;
      p.centered = false;
      break;
    case OutputLayout::darknet:
      p.letterbox = false;  // Darknet: RGB, /255, plain resize
      break;
    case OutputLayout::fastestv2:
      p.rgb = false;  // Yolo-FastestV2: BGR, /255, plain resize
      p.letterbox = false;
      break;
  }
  return p;
}

}  // namespace shmyolo::detect
