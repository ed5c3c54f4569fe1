// Vocabulary of the detector: images it reads, boxes it returns, its errors.
// The detector knows nothing of shared memory: an image is a pointer, a size
// and a stride, wherever the bytes live.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

#include <shmyolo/error.hpp>

namespace shmyolo::detect {

enum class ChannelOrder { bgr, rgb };

// 8-bit, 3-channel, interleaved (HWC) pixels.
struct ImageView {
  const std::uint8_t* data = nullptr;
  int width = 0;
  int height = 0;
  std::size_t stride = 0;  // bytes per row, >= width * 3
  ChannelOrder order = ChannelOrder::bgr;
};

struct Box {
  float x1 = 0;
  float y1 = 0;
  float x2 = 0;
  float y2 = 0;

  [[nodiscard]] float width() const { return x2 - x1; }
  [[nodiscard]] float height() const { return y2 - y1; }
  [[nodiscard]] float area() const { return width() > 0 && height() > 0 ? width() * height() : 0.0F; }
};

[[nodiscard]] float iou(const Box& a, const Box& b);

struct Detection {
  int class_id = 0;
  float score = 0;
  Box box;  // original-image pixels, clipped to the image
};

enum class DetectErrc {
  model_not_found,     // no file at the path
  model_invalid,       // not a model, truncated, or the engine refused it
  layout_unknown,      // the outputs match no known YOLO layout
  engine_unavailable,  // the engine cannot run this model (e.g. OpenCV and int8)
  bad_input,           // an image or option the detector cannot use
  inference_failed,    // the engine failed while running
};

[[nodiscard]] std::string_view to_string(DetectErrc code);

// The message is one line: it names the model or image and what to do.
using DetectError = Error<DetectErrc>;

template <class T>
using DetectResult = Result<T, DetectErrc>;

[[nodiscard]] inline std::unexpected<DetectError> detect_error(DetectErrc code, std::string message) {
  return make_error(code, std::move(message));
}

}  // namespace shmyolo::detect
