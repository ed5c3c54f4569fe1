// Letterboxes a camera frame straight into a frame-bus slot: one resize
// written into the slot's pixels, padding filled around it, no intermediate
// image. The slot then holds exactly the model's input, so a worker reads it
// in a single pass (the detector skips its own resize for such images).
#pragma once

#include <cstddef>
#include <cstdint>

#include <shmyolo/detect/letterbox.hpp>
#include <shmyolo/detect/model.hpp>
#include <shmyolo/detect/types.hpp>

namespace shmyolo::ingest {

struct SlotPixels {  // 8-bit BGR, interleaved
  std::uint8_t* data = nullptr;
  int width = 0;
  int height = 0;
  std::size_t stride = 0;  // bytes per row
};

// The same placement the detector would choose for `p` (Ultralytics' centred
// letterbox by default), so boxes map back with the returned transform.
detect::LetterboxTransform letterbox_into_slot(const detect::ImageView& frame, const SlotPixels& slot,
                                               const detect::Preprocessing& p = {});

// Fills the slot around the transform's picture with the padding value.
void fill_padding(const SlotPixels& slot, const detect::LetterboxTransform& t, std::uint8_t value);

}  // namespace shmyolo::ingest
