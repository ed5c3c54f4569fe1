// Letterbox: an image into the model's input tensor, in one pass after the
// resize, the way Ultralytics (or YOLOX) prepares it.
#pragma once

#include <cstdint>
#include <vector>

#include <shmyolo/detect/model.hpp>
#include <shmyolo/detect/types.hpp>

namespace shmyolo::detect {

// input pixel = source pixel * scale + pad
struct LetterboxTransform {
  float scale_x = 1;
  float scale_y = 1;
  int pad_x = 0;
  int pad_y = 0;
  int resized_width = 0;
  int resized_height = 0;

  // A box in input-tensor pixels back to source pixels, clipped to the source.
  [[nodiscard]] Box to_source(const Box& b, int source_width, int source_height) const;
};

[[nodiscard]] LetterboxTransform plan_letterbox(int source_width, int source_height, int input_width, int input_height,
                                                const Preprocessing& p);

// Keeps its resize buffer between calls: no allocation per frame.
class Letterboxer {
 public:
  // Writes `image` into `tensor`: 3 planes of input_height x input_width
  // floats (CHW) in the model's channel order, scaled, padded.
  LetterboxTransform run(const ImageView& image, int input_width, int input_height, const Preprocessing& p,
                         float* tensor);

 private:
  std::vector<std::uint8_t> resized_;
};

}  // namespace shmyolo::detect
