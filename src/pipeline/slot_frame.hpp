// A picture letterboxed straight into a frame-bus slot, with the frame record
// a worker needs to map its boxes back to the source's pixels: the one way
// both camera ingest and HTTP uploads fill a slot.
#pragma once

#include <opencv2/core.hpp>
#include <shmyolo/bus/ring.hpp>
#include <shmyolo/detect/model.hpp>
#include <shmyolo/ingest/slot_letterbox.hpp>

#include "frame_record.hpp"

namespace shmyolo::pipeline {

// Fills the slot with `picture` (the part of a source_size frame at `crop`)
// and returns its metadata with the frame record written: the letterbox's own
// placement and the frame's origin. The caller adds capture times.
inline bus::FrameMeta place_in_slot(const cv::Mat& picture, const bus::WriteSlot& slot, const bus::RingGeometry& g,
                                    const detect::Preprocessing& preprocessing, const Origin& origin,
                                    cv::Size source_size, cv::Point crop = {}) {
  const auto placed = ingest::letterbox_into_slot(
      {.data = picture.data, .width = picture.cols, .height = picture.rows, .stride = picture.step},
      {.data = reinterpret_cast<std::uint8_t*>(slot.pixels().data()),
       .width = static_cast<int>(g.width),
       .height = static_cast<int>(g.height),
       .stride = g.row_stride},
      preprocessing);
  const auto u32 = [](int v) { return static_cast<std::uint32_t>(v); };
  bus::FrameMeta meta;
  write_record(meta, {.placement = Placement::of(placed, u32(source_size.width), u32(source_size.height), u32(crop.x),
                                                 u32(crop.y), u32(picture.cols), u32(picture.rows)),
                      .origin = origin});
  return meta;
}

}  // namespace shmyolo::pipeline
