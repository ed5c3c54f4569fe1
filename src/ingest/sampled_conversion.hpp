// The OpenCV path's very pixels at a fraction of its cost, where the picture
// is scaled by a whole number (1080p into 640 or 320, 4K into 640, ...).
//
// The OpenCV path converts the whole decoded picture to BGR (swscale) and
// then resizes it (cv::resize, INTER_LINEAR). At a whole-number scale s each
// output pixel reads one source pixel (s odd: weights 1 and 0) or two by two
// (s even: weights 1/2), always the same ones, so most source rows are read
// by no output pixel: 1 in 3 is read for 1080p into 640 or into 320. Only
// those rows are converted, by swscale's own conversion, and the pixels
// read are combined as cv::resize combines them, so the slot holds the
// OpenCV path's pixels, and the boxes are its boxes, bit for bit.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include <opencv2/core.hpp>

struct SwsContext;

namespace shmyolo::ingest {

class SampledConversion {
 public:
  SampledConversion() = default;
  ~SampledConversion();
  SampledConversion(const SampledConversion&) = delete;
  SampledConversion& operator=(const SampledConversion&) = delete;

  // Y, U and V planes of 4:2:0 (each pointer at the crop's corner, which is
  // even) of a crop of `crop` pixels, resized to `out` at `dest` as
  // cv::resize resizes swscale's BGR picture of them. False, with nothing
  // written, unless both scales are whole numbers and at most a third of
  // the rows are read: the older path is cheaper there.
  bool place(const std::array<const std::uint8_t*, 3>& planes, const std::array<int, 3>& strides, cv::Size crop,
             cv::Size out, std::uint8_t* dest, std::size_t dest_stride);

 private:
  // Along one axis, output position d reads source positions
  // scale * d + first + i for i < count (1, or 2 of weight 1/2 each).
  struct Taps {
    int scale = 0;
    int first = 0;
    int count = 0;
  };
  struct Planes {
    const std::array<const std::uint8_t*, 3>& data;
    const std::array<int, 3>& stride;
  };
  void convert_band(const Planes& planes, Taps rows, int y0, int y1);
  void gather_band(const Planes& planes, Taps columns, Taps rows, int y0, int y1, int out_width);
  void convert_blocks(int y0, int y1);
  void combine_band(Taps columns, int rows_per_output, int y0, int y1, int out_width, std::uint8_t* dest,
                    std::size_t dest_stride) const;

  cv::Mat rows_;                   // a band's rows read, converted: output row y0 + d's taps at rows d * count + i
  std::array<cv::Mat, 3> blocks_;  // a band's 2x2 blocks read, side by side, as 4:2:0 (Y, U, V)
  SwsContext* scaler_ = nullptr;
};

}  // namespace shmyolo::ingest
