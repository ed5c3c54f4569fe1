// A picture letterboxed straight into a frame-bus slot, with the frame record
// a worker needs to map its boxes back to the source's pixels: the one way
// both camera ingest and HTTP uploads fill a slot.
#pragma once

#include <opencv2/core.hpp>
#include <shmyolo/bus/ring.hpp>
#include <shmyolo/detect/model.hpp>
#include <shmyolo/ingest/frame_source.hpp>
#include <shmyolo/ingest/slot_letterbox.hpp>

#include "frame_record.hpp"

namespace shmyolo::pipeline {

// The slot's pixels, as the letterbox writes them.
inline ingest::SlotPixels slot_pixels(const bus::WriteSlot& slot, const bus::RingGeometry& g) {
  return {.data = reinterpret_cast<std::uint8_t*>(slot.pixels().data()),
          .width = static_cast<int>(g.width),
          .height = static_cast<int>(g.height),
          .stride = g.row_stride};
}

// The metadata of a placed frame with its record written: the letterbox's own
// placement and the frame's origin. The caller adds capture times.
inline bus::FrameMeta meta_of(const ingest::Placed& placed, const Origin& origin) {
  const auto u32 = [](int v) { return static_cast<std::uint32_t>(v); };
  bus::FrameMeta meta;
  write_record(meta, {.placement = Placement::of(placed.transform, u32(placed.source.width), u32(placed.source.height),
                                                 u32(placed.crop.x), u32(placed.crop.y), u32(placed.picture.width),
                                                 u32(placed.picture.height)),
                      .origin = origin});
  return meta;
}

// Fills the slot with `picture` (the part of a source_size frame at `crop`)
// and returns its metadata (meta_of).
inline bus::FrameMeta place_in_slot(const cv::Mat& picture, const bus::WriteSlot& slot, const bus::RingGeometry& g,
                                    const detect::Preprocessing& preprocessing, const Origin& origin,
                                    cv::Size source_size, cv::Point crop = {}) {
  const auto transform = ingest::letterbox_into_slot(
      {.data = picture.data, .width = picture.cols, .height = picture.rows, .stride = picture.step},
      slot_pixels(slot, g), preprocessing);
  return meta_of({.transform = transform, .source = source_size, .crop = crop, .picture = picture.size()}, origin);
}

}  // namespace shmyolo::pipeline
