#include <shmyolo/ingest/slot_letterbox.hpp>

#include <cstring>

#include <opencv2/imgproc.hpp>

namespace shmyolo::ingest {

namespace {

void fill_rows(const SlotPixels& slot, int y0, int y1, std::uint8_t value) {
  for (int y = y0; y < y1; ++y) {
    std::memset(slot.data + static_cast<std::size_t>(y) * slot.stride, value, static_cast<std::size_t>(slot.width) * 3);
  }
}

void fill_columns(const SlotPixels& slot, int y0, int y1, int x0, int x1, std::uint8_t value) {
  if (x1 <= x0) return;
  for (int y = y0; y < y1; ++y) {
    std::memset(slot.data + static_cast<std::size_t>(y) * slot.stride + static_cast<std::size_t>(x0) * 3, value,
                static_cast<std::size_t>(x1 - x0) * 3);
  }
}

}  // namespace

detect::LetterboxTransform letterbox_into_slot(const detect::ImageView& frame, const SlotPixels& slot,
                                               const detect::Preprocessing& p) {
  const detect::LetterboxTransform t = detect::plan_letterbox(frame.width, frame.height, slot.width, slot.height, p);
  // const_cast: OpenCV's Mat has no read-only view; the source is only read.
  const cv::Mat source(frame.height, frame.width, CV_8UC3, const_cast<std::uint8_t*>(frame.data), frame.stride);
  cv::Mat target(slot.height, slot.width, CV_8UC3, slot.data, slot.stride);
  cv::Mat inner = target(cv::Rect(t.pad_x, t.pad_y, t.resized_width, t.resized_height));
  if (t.resized_width == frame.width && t.resized_height == frame.height) {
    source.copyTo(inner);
  } else {
    // Writes into the slot's memory: `inner` already has the size and type,
    // so OpenCV does not reallocate it.
    cv::resize(source, inner, inner.size(), 0, 0, cv::INTER_LINEAR);
  }
  fill_padding(slot, t, p.pad_value);
  return t;
}

void fill_padding(const SlotPixels& slot, const detect::LetterboxTransform& t, std::uint8_t value) {
  const int bottom = t.pad_y + t.resized_height;
  fill_rows(slot, 0, t.pad_y, value);
  fill_rows(slot, bottom, slot.height, value);
  fill_columns(slot, t.pad_y, bottom, 0, t.pad_x, value);
  fill_columns(slot, t.pad_y, bottom, t.pad_x + t.resized_width, slot.width, value);
}

}  // namespace shmyolo::ingest
