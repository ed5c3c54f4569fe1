#include "exact_conversion.hpp"

#include <algorithm>
#include <cstring>
#include <optional>

#include <opencv2/imgproc.hpp>

extern "C" {
#include <libswscale/swscale.h>
}

namespace shmyolo::ingest {
namespace {

// cv::resize's INTER_LINEAR taps at a whole-number scale, as OpenCV 4.6
// computes them (modules/imgproc/src/resize.cpp): output d reads from
// (d + 0.5) * scale - 0.5, that is scale * d + (scale - 1) / 2. An odd scale
// lands on a pixel (its neighbour's weight is 0); an even one falls halfway
// between two, each weighed 1024/2048.
std::optional<int> whole_scale(int source, int target) {
  if (target <= 0 || source % target != 0) return std::nullopt;
  return source / target;
}

// Output rows converted and combined at a time: 16 rows of 1920 pixels
// and two taps are 180 KB, which stay in a core's L2 cache (the whole
// picture's 360 rows, 2 MB, did not: combining them cost as much again).
// Even, so that swscale's conversion is chosen (it wants even heights).
constexpr int kBand = 16;

// Rows padded to 16 pixels: swscale's x86 conversion writes whole steps of
// 8 pixels, past the row's end (into the padding) where the width is not a
// multiple.
int padded(int width) {
  return (width + 15) / 16 * 16;
}

// The largest source pixels per output pixel converted whole: measured
// (docs/benchmarks.md, "The OpenCV path's very pixels where the picture
// shrinks little"), converting the whole crop then costs about what the
// planes' resize does up to here, and more beyond (a 720p crop into 640 at
// 4 cost 0.3-0.4 ms a frame more).
constexpr double kWholeAtMost = 2.0;

}  // namespace

std::optional<YuvLayout> yuv_layout(int av_pixel_format) {
  switch (av_pixel_format) {
    case AV_PIX_FMT_YUV420P: return YuvLayout{.chroma_shift = 1, .full_range = false};
    case AV_PIX_FMT_YUVJ420P: return YuvLayout{.chroma_shift = 1, .full_range = true};
    case AV_PIX_FMT_YUV422P: return YuvLayout{.chroma_shift = 0, .full_range = false};
    case AV_PIX_FMT_YUVJ422P: return YuvLayout{.chroma_shift = 0, .full_range = true};
    default: return std::nullopt;
  }
}

ExactConversion::~ExactConversion() {
  sws_freeContext(scaler_);
}

// Converts the rows that output rows [y0, y1) read into rows_, with the
// conversion OpenCV's capture uses (swscale, bicubic flags, its colour
// defaults). The rows of one tap, taken every other output row where the
// scale is odd, are evenly spaced and so are their chroma rows: each such
// set is one swscale call on the planes as they are, with strides that step
// over the rows not read. Read as 4:2:2 (a chroma row for every row), they
// go through the very conversion of 4:2:0 (x86's yuv420_bgr24 takes both),
// so each pixel gets the values the full picture's conversion gives it; a
// 4:2:2 picture is read as what it is.
void ExactConversion::convert_band(const Source& in, Taps rows, int y0, int y1) {
  const int parities = rows.scale % 2 == 0 ? 1 : 2;  // odd: the chroma row steps alternate, so two sets
  const int step = rows.scale * parities;            // source rows from one output row of a set to the next
  const auto row_bytes = static_cast<std::ptrdiff_t>(rows_.step);
  for (int parity = 0; parity < parities; ++parity) {
    const int height = (y1 - y0 - parity + parities - 1) / parities;
    if (height <= 0) continue;
    for (int i = 0; i < rows.count; ++i) {
      const int row = rows.scale * (y0 + parity) + rows.first + i;  // the set's first source row
      const int chroma_row = row >> in.layout.chroma_shift;
      const int chroma_step = step >> in.layout.chroma_shift;  // step is even in 4:2:0
      const std::array<const std::uint8_t*, 4> from{
          in.planes[0] + static_cast<std::ptrdiff_t>(row) * in.strides[0],
          in.planes[1] + static_cast<std::ptrdiff_t>(chroma_row) * in.strides[1],
          in.planes[2] + static_cast<std::ptrdiff_t>(chroma_row) * in.strides[2], nullptr};
      const std::array<int, 4> from_stride{step * in.strides[0], chroma_step * in.strides[1],
                                           chroma_step * in.strides[2], 0};
      std::array<std::uint8_t*, 4> out{rows_.data + (parity * rows.count + i) * row_bytes, nullptr, nullptr, nullptr};
      std::array<int, 4> out_stride{static_cast<int>(static_cast<std::ptrdiff_t>(parities * rows.count) * row_bytes), 0,
                                    0, 0};
      sws_scale(scaler_, from.data(), from_stride.data(), 0, height, out.data(), out_stride.data());
    }
  }
}

// Output rows [y0, y1) from their converted taps in rows_. cv::resize's
// fixed-point sum of 1, 2 or 4 taps, each weighed 2048 / count per axis,
// rounds to (sum + n / 2) / n with n taps (its scalar and SIMD code agree at
// these weights).
void ExactConversion::combine_band(Taps columns, int rows_per_output, int y0, int y1, int out_width, std::uint8_t* dest,
                                   std::size_t dest_stride) const {
  const int taps = columns.count * rows_per_output;
  const int half = taps / 2;  // also log2(taps) for 2 and 4 taps: the division's shift
  const std::ptrdiff_t step = static_cast<std::ptrdiff_t>(columns.scale) * 3;  // bytes between output pixels' taps
  const std::ptrdiff_t right = columns.count == 2 ? 3 : 0;
  for (int y = y0; y < y1; ++y) {
    std::uint8_t* to = dest + static_cast<std::size_t>(y) * dest_stride;
    const std::uint8_t* top = rows_.ptr((y - y0) * rows_per_output) + static_cast<std::ptrdiff_t>(columns.first) * 3;
    const std::uint8_t* bottom = rows_per_output == 2 ? top + rows_.step : top;
    for (std::ptrdiff_t x = 0; x < out_width; ++x, to += 3) {
      const std::uint8_t* a = top + x * step;
      if (taps == 1) {
        std::memcpy(to, a, 3);
        continue;
      }
      const std::uint8_t* b = bottom + x * step;
      for (int c = 0; c < 3; ++c) {
        int sum = a[c] + (right != 0 ? a[right + c] : 0);
        if (rows_per_output == 2) sum += b[c] + (right != 0 ? b[right + c] : 0);
        to[c] = static_cast<std::uint8_t>((sum + half) >> half);
      }
    }
  }
}

// Both scales 2 more than a multiple of 4 (1080p into 320, 4K into 640):
// each output pixel reads a 2x2 block of pixels that share a chroma sample
// (4:2:0) or one a row (4:2:2). The blocks of output rows [y0, y1) are
// copied side by side, chroma with them, into a picture of twice the
// output's size (a ninth of the source's pixels at a scale of 6) for the
// conversion itself.
void ExactConversion::gather_band(const Source& in, Taps columns, Taps rows, int y0, int y1, int out_width) {
  const int chroma_rows = 2 >> in.layout.chroma_shift;  // a block's
  for (int y = y0; y < y1; ++y) {
    const int row = rows.scale * y + rows.first;
    const std::uint8_t* top = in.planes[0] + static_cast<std::ptrdiff_t>(row) * in.strides[0];
    const std::uint8_t* bottom = top + in.strides[0];
    std::uint8_t* to_top = blocks_[0].ptr(2 * (y - y0));
    std::uint8_t* to_bottom = blocks_[0].ptr(2 * (y - y0) + 1);
    for (std::ptrdiff_t x = 0; x < out_width; ++x) {
      const std::ptrdiff_t column = columns.scale * x + columns.first;
      std::memcpy(to_top + 2 * x, top + column, 2);
      std::memcpy(to_bottom + 2 * x, bottom + column, 2);
    }
    for (int c = 0; c < chroma_rows; ++c) {
      const int chroma_row = (row >> in.layout.chroma_shift) + c;
      const std::uint8_t* u = in.planes[1] + static_cast<std::ptrdiff_t>(chroma_row) * in.strides[1];
      const std::uint8_t* v = in.planes[2] + static_cast<std::ptrdiff_t>(chroma_row) * in.strides[2];
      std::uint8_t* to_u = blocks_[1].ptr((y - y0) * chroma_rows + c);
      std::uint8_t* to_v = blocks_[2].ptr((y - y0) * chroma_rows + c);
      for (std::ptrdiff_t x = 0; x < out_width; ++x) {
        const std::ptrdiff_t column = columns.scale * x + columns.first;
        to_u[x] = u[column >> 1];
        to_v[x] = v[column >> 1];
      }
    }
  }
}

void ExactConversion::convert_blocks(int y0, int y1) {
  const std::array<const std::uint8_t*, 4> in{blocks_[0].data, blocks_[1].data, blocks_[2].data, nullptr};
  const std::array<int, 4> in_stride{static_cast<int>(blocks_[0].step), static_cast<int>(blocks_[1].step),
                                     static_cast<int>(blocks_[2].step), 0};
  std::array<std::uint8_t*, 4> out{rows_.data, nullptr, nullptr, nullptr};
  std::array<int, 4> out_stride{static_cast<int>(rows_.step), 0, 0, 0};
  sws_scale(scaler_, in.data(), in_stride.data(), 0, 2 * (y1 - y0), out.data(), out_stride.data());
}

// swscale's conversion of `width` x `height` pictures of the source's
// range: from 4:2:2 (a 4:2:2 source, or 4:2:0 rows taken one by one by
// convert_band) or from 4:2:0.
bool ExactConversion::use_scaler(int width, int height, bool planar_422, bool full_range) {
  AVPixelFormat format = planar_422 ? AV_PIX_FMT_YUV422P : AV_PIX_FMT_YUV420P;
  if (full_range) format = planar_422 ? AV_PIX_FMT_YUVJ422P : AV_PIX_FMT_YUVJ420P;
  scaler_ = sws_getCachedContext(scaler_, width, height, format, width, height, AV_PIX_FMT_BGR24, SWS_BICUBIC, nullptr,
                                 nullptr, nullptr);
  return scaler_ != nullptr;
}

bool ExactConversion::place_sampled(const Source& in, cv::Size out, std::uint8_t* dest, std::size_t dest_stride) {
  const cv::Size crop = in.size;
  const auto sx = whole_scale(crop.width, out.width);
  const auto sy = whole_scale(crop.height, out.height);
  if (!sx || !sy) return false;
  const Taps columns{.scale = *sx, .first = (*sx - 1) / 2, .count = *sx % 2 == 0 ? 2 : 1};
  const Taps rows{.scale = *sy, .first = (*sy - 1) / 2, .count = *sy % 2 == 0 ? 2 : 1};
  // At most a third of the rows read (scales 3, 5, 6, 7, 9, ...); 2 and 4
  // read half or all of them, and both scales 2 is cv::resize's INTER_AREA.
  if (rows.count * 3 > rows.scale) return false;
  // 2x2 blocks whose two columns share their chroma, and whose two rows do
  // too in 4:2:0.
  const bool blocks = columns.count == 2 && rows.count == 2 && columns.first % 2 == 0 &&
                      (rows.first % 2 == 0 || in.layout.chroma_shift == 0);
  // A band of output rows at a time: its converted rows stay in the cache
  // until they are combined.
  const int width = blocks ? 2 * out.width : crop.width;
  rows_.create(kBand * rows.count, padded(width), CV_8UC3);
  if (!use_scaler(width, kBand * rows.count, !blocks || in.layout.chroma_shift == 0, in.layout.full_range))
    return false;
  if (blocks && blocks_[0].cols != rows_.cols) {
    // Zeros in the padding, which swscale converts and nothing reads;
    // chroma for 4:2:2's two rows a block.
    blocks_[0] = cv::Mat::zeros(2 * kBand, rows_.cols, CV_8UC1);
    blocks_[1] = cv::Mat::zeros(2 * kBand, rows_.cols / 2, CV_8UC1);
    blocks_[2] = cv::Mat::zeros(2 * kBand, rows_.cols / 2, CV_8UC1);
  }
  for (int y0 = 0; y0 < out.height; y0 += kBand) {
    const int y1 = std::min(y0 + kBand, out.height);
    if (blocks) {
      gather_band(in, columns, rows, y0, y1, out.width);
      convert_blocks(y0, y1);
      combine_band({.scale = 2, .first = 0, .count = 2}, 2, y0, y1, out.width, dest, dest_stride);
    } else {
      convert_band(in, rows, y0, y1);
      combine_band(columns, rows.count, y0, y1, out.width, dest, dest_stride);
    }
  }
  return true;
}

// The crop converted whole, by the conversion the full picture gets, which
// swscale gives pictures of even heights. In 4:2:0 it takes whole rows of
// chroma, two rows of pixels each: an odd crop converts the row below it too
// (there is one: the crop's corner and the full picture's height are even),
// which nothing reads. In 4:2:2 it converts an odd crop's rows alone.
bool ExactConversion::place_whole(const Source& in, cv::Size out, std::uint8_t* dest, std::size_t dest_stride) {
  const cv::Size crop = in.size;
  if (static_cast<double>(crop.area()) > kWholeAtMost * static_cast<double>(out.area())) return false;
  const int even = crop.height + crop.height % 2;
  const int height = in.layout.chroma_shift == 1 ? even : crop.height;  // rows converted
  if (!use_scaler(crop.width, even, in.layout.chroma_shift == 0, in.layout.full_range)) return false;
  const std::array<const std::uint8_t*, 4> planes{in.planes[0], in.planes[1], in.planes[2], nullptr};
  const std::array<int, 4> strides{in.strides[0], in.strides[1], in.strides[2], 0};
  // The same size, where the conversion's steps of 8 pixels end at the
  // row's end (it would write past it into the slot's neighbour, at its
  // last row) and no row below is converted: straight into the slot, as
  // cv::resize copies at the same size.
  if (crop == out && height == crop.height && crop.width % 8 == 0) {
    std::array<std::uint8_t*, 4> to{dest, nullptr, nullptr, nullptr};
    std::array<int, 4> to_stride{static_cast<int>(dest_stride), 0, 0, 0};
    sws_scale(scaler_, planes.data(), strides.data(), 0, height, to.data(), to_stride.data());
    return true;
  }
  whole_.create(even, padded(crop.width), CV_8UC3);
  std::array<std::uint8_t*, 4> to{whole_.data, nullptr, nullptr, nullptr};
  std::array<int, 4> to_stride{static_cast<int>(whole_.step), 0, 0, 0};
  sws_scale(scaler_, planes.data(), strides.data(), 0, height, to.data(), to_stride.data());
  cv::Mat target(out, CV_8UC3, dest, dest_stride);  // the slot's pixels: written in place, no reallocation
  const cv::Mat picture = whole_(cv::Rect(0, 0, crop.width, crop.height));
  if (crop == out) {
    picture.copyTo(target);
  } else {
    cv::resize(picture, target, out, 0, 0, cv::INTER_LINEAR);
  }
  return true;
}

bool ExactConversion::place(const Source& in, cv::Size out, std::uint8_t* dest, std::size_t dest_stride) {
  return place_sampled(in, out, dest, dest_stride) || place_whole(in, out, dest, dest_stride);
}

}  // namespace shmyolo::ingest
