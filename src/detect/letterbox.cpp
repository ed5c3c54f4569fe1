#include <shmyolo/detect/letterbox.hpp>

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

namespace shmyolo::detect {

Box LetterboxTransform::to_source(const Box& b, int source_width, int source_height) const {
  const auto sx = [&](float x) {
    return std::clamp((x - static_cast<float>(pad_x)) / scale_x, 0.0F, static_cast<float>(source_width));
  };
  const auto sy = [&](float y) {
    return std::clamp((y - static_cast<float>(pad_y)) / scale_y, 0.0F, static_cast<float>(source_height));
  };
  return Box{sx(b.x1), sy(b.y1), sx(b.x2), sy(b.y2)};
}

LetterboxTransform plan_letterbox(int source_width, int source_height, int input_width, int input_height,
                                  const Preprocessing& p) {
  LetterboxTransform t;
  if (!p.letterbox) {
    t.resized_width = input_width;
    t.resized_height = input_height;
    t.scale_x = static_cast<float>(input_width) / static_cast<float>(source_width);
    t.scale_y = static_cast<float>(input_height) / static_cast<float>(source_height);
    return t;
  }
  const double r =
      std::min(static_cast<double>(input_width) / source_width, static_cast<double>(input_height) / source_height);
  // Ultralytics: new_unpad = round(w * r), round(h * r); padding split evenly.
  t.resized_width = std::clamp(static_cast<int>(std::lround(source_width * r)), 1, input_width);
  t.resized_height = std::clamp(static_cast<int>(std::lround(source_height * r)), 1, input_height);
  t.scale_x = static_cast<float>(r);
  t.scale_y = static_cast<float>(r);
  if (p.centered) {
    t.pad_x = (input_width - t.resized_width) / 2;
    t.pad_y = (input_height - t.resized_height) / 2;
  }
  return t;
}

LetterboxTransform Letterboxer::run(const ImageView& image, int input_width, int input_height, const Preprocessing& p,
                                    float* tensor) {
  const LetterboxTransform t = plan_letterbox(image.width, image.height, input_width, input_height, p);
  const std::uint8_t* rows = image.data;
  std::size_t row_bytes = image.stride;
  if (t.resized_width != image.width || t.resized_height != image.height) {
    resized_.resize(static_cast<std::size_t>(t.resized_width) * t.resized_height * 3);
    const cv::Mat src(image.height, image.width, CV_8UC3, const_cast<std::uint8_t*>(image.data), image.stride);
    cv::Mat dst(t.resized_height, t.resized_width, CV_8UC3, resized_.data());
    cv::resize(src, dst, dst.size(), 0, 0, cv::INTER_LINEAR);
    rows = resized_.data();
    row_bytes = static_cast<std::size_t>(t.resized_width) * 3;
  }
  // One pass: HWC uint8 -> CHW float, channel swap and scale fused, padding
  // written in place (no padded canvas, no intermediate blob).
  const bool swap = (image.order == ChannelOrder::bgr) == p.rgb;
  const std::size_t plane = static_cast<std::size_t>(input_width) * input_height;
  float* out0 = tensor;
  float* out1 = tensor + plane;
  float* out2 = tensor + 2 * plane;
  const float pad = static_cast<float>(p.pad_value) * p.scale;
  const float s = p.scale;
  for (int y = 0; y < input_height; ++y) {
    const std::size_t row = static_cast<std::size_t>(y) * input_width;
    const int sy = y - t.pad_y;
    if (sy < 0 || sy >= t.resized_height) {
      std::fill_n(out0 + row, input_width, pad);
      std::fill_n(out1 + row, input_width, pad);
      std::fill_n(out2 + row, input_width, pad);
      continue;
    }
    std::fill_n(out0 + row, t.pad_x, pad);
    std::fill_n(out1 + row, t.pad_x, pad);
    std::fill_n(out2 + row, t.pad_x, pad);
    const std::uint8_t* px = rows + static_cast<std::size_t>(sy) * row_bytes;
    const std::size_t base = row + static_cast<std::size_t>(t.pad_x);
    const int first = swap ? 2 : 0;
    const int last = swap ? 0 : 2;
    for (int x = 0; x < t.resized_width; ++x) {
      out0[base + x] = static_cast<float>(px[x * 3 + first]) * s;
      out1[base + x] = static_cast<float>(px[x * 3 + 1]) * s;
      out2[base + x] = static_cast<float>(px[x * 3 + last]) * s;
    }
    const int right = input_width - t.pad_x - t.resized_width;
    std::fill_n(out0 + base + t.resized_width, right, pad);
    std::fill_n(out1 + base + t.resized_width, right, pad);
    std::fill_n(out2 + base + t.resized_width, right, pad);
  }
  return t;
}

}  // namespace shmyolo::detect
