// A picture letterboxed straight into a frame-bus slot, and the metadata a
// worker needs to map its boxes back to the picture's pixels: the one way
// both camera ingest and HTTP uploads fill a slot.
#pragma once

#include <opencv2/core.hpp>
#include <shmyolo/bus/ring.hpp>
#include <shmyolo/detect/model.hpp>
#include <shmyolo/ingest/slot_letterbox.hpp>

namespace shmyolo::pipeline {

// Fills the slot and returns its metadata with the source size and the
// letterbox placement set; the caller adds capture times and user fields.
inline bus::FrameMeta place_in_slot(const cv::Mat& picture, const bus::WriteSlot& slot, const bus::RingGeometry& g,
                                    const detect::Preprocessing& preprocessing, cv::Size source_size) {
  const auto placed = ingest::letterbox_into_slot(
      {.data = picture.data, .width = picture.cols, .height = picture.rows, .stride = picture.step},
      {.data = reinterpret_cast<std::uint8_t*>(slot.pixels().data()),
       .width = static_cast<int>(g.width),
       .height = static_cast<int>(g.height),
       .stride = g.row_stride},
      preprocessing);
  bus::FrameMeta meta;
  meta.source_width = static_cast<std::uint32_t>(source_size.width);
  meta.source_height = static_cast<std::uint32_t>(source_size.height);
  meta.scale = placed.scale_x;
  meta.pad_x = static_cast<float>(placed.pad_x);
  meta.pad_y = static_cast<float>(placed.pad_y);
  return meta;
}

}  // namespace shmyolo::pipeline
