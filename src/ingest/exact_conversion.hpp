// The OpenCV path's very pixels without its full-size picture, where that
// costs no more than the planes' resize: at a whole-number scale (1080p into
// 640 or 320, 4K into 640, ...) and where the picture shrinks little or not
// at all (a 640x480 camera into 640, 768x576 into 640x480, a small camera
// into a larger model).
//
// The OpenCV path converts the whole decoded picture to BGR (swscale) and
// then resizes it (cv::resize, INTER_LINEAR). At a whole-number scale s each
// output pixel reads one source pixel (s odd: weights 1 and 0) or two by two
// (s even: weights 1/2), always the same ones, so most source rows are read
// by no output pixel: 1 in 3 is read for 1080p into 640 or into 320. Only
// those rows are converted, by swscale's own conversion, and the pixels
// read are combined as cv::resize combines them. Where the picture shrinks
// by less than about 1.4 on each side (at most twice the output's pixels),
// every pixel is read and the conversion is about as dear as the output's
// own passes: the crop is converted whole, by the same conversion, and
// resized by cv::resize itself (or written straight into the slot at the
// same size). Either way the slot holds the OpenCV path's pixels, and the
// boxes are its boxes, bit for bit.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include <opencv2/core.hpp>

struct SwsContext;

namespace shmyolo::ingest {

// How a planar YUV picture is laid out: 4:2:0 or 4:2:2, of limited range or
// of JPEG's full range (the YUVJ formats: MJPEG, and the H.264 of many IP
// cameras).
struct YuvLayout {
  int chroma_shift = 1;  // rows per chroma row, as a shift: 1 in 4:2:0, 0 in 4:2:2
  bool full_range = false;
};

// An FFmpeg pixel format's layout, for the four formats above only.
[[nodiscard]] std::optional<YuvLayout> yuv_layout(int av_pixel_format);

class ExactConversion {
 public:
  ExactConversion() = default;
  ~ExactConversion();
  ExactConversion(const ExactConversion&) = delete;
  ExactConversion& operator=(const ExactConversion&) = delete;

  // A crop of YUV 4:2:0 or 4:2:2: Y, U and V, each pointer at the crop's
  // corner (whose x is even, and its y too in 4:2:0).
  struct Source {
    std::array<const std::uint8_t*, 3> planes{};
    std::array<int, 3> strides{};
    cv::Size size;
    YuvLayout layout;
  };

  // The crop resized to `out` at `dest` as cv::resize resizes swscale's BGR
  // picture of it. False, with nothing written, where neither way applies
  // (the planes' resize is cheaper).
  bool place(const Source& in, cv::Size out, std::uint8_t* dest, std::size_t dest_stride);

 private:
  // Along one axis, output position d reads source positions
  // scale * d + first + i for i < count (1, or 2 of weight 1/2 each).
  struct Taps {
    int scale = 0;
    int first = 0;
    int count = 0;
  };
  bool place_sampled(const Source& in, cv::Size out, std::uint8_t* dest, std::size_t dest_stride);
  bool place_whole(const Source& in, cv::Size out, std::uint8_t* dest, std::size_t dest_stride);
  void convert_band(const Source& in, Taps rows, int y0, int y1);
  void gather_band(const Source& in, Taps columns, Taps rows, int y0, int y1, int out_width);
  void convert_blocks(int y0, int y1);
  bool use_scaler(int width, int height, bool planar_422, bool full_range);
  void combine_band(Taps columns, int rows_per_output, int y0, int y1, int out_width, std::uint8_t* dest,
                    std::size_t dest_stride) const;

  cv::Mat rows_;                   // a band's rows read, converted: output row y0 + d's taps at rows d * count + i
  std::array<cv::Mat, 3> blocks_;  // a band's 2x2 blocks read, side by side, in the source's layout (Y, U, V)
  cv::Mat whole_;                  // place_whole's converted crop, rows padded
  SwsContext* scaler_ = nullptr;
};

}  // namespace shmyolo::ingest
