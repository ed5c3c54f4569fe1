// A frame in a slot as a JPEG a person looks at: the picture without its
// letterbox padding, at the slot's scale, with boxes drawn where the model
// saw them. The dashboard's tiles and the events' snapshots both use it.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <shmyolo/bus/ring.hpp>
#include <shmyolo/config/pipeline_config.hpp>
#include <shmyolo/detect/types.hpp>

#include "frame_record.hpp"

namespace shmyolo::pipeline {

struct LabelledBox {
  detect::Box box;   // source pixels
  int class_id = 0;  // picks the colour
  std::string label;
};

// A camera's zones and lines, in source pixels, drawn under the boxes.
struct Overlay {
  std::vector<std::vector<track::Point>> zones;
  std::vector<std::array<track::Point, 2>> lines;
  std::vector<std::string> zone_names;
  std::vector<std::string> line_names;
};

// The camera's zones and lines for a frame of this size (normalised ones scaled to it).
[[nodiscard]] Overlay overlay_of(const config::CameraConfig& camera, std::uint32_t width, std::uint32_t height);

// The JPEG of a slot's picture with the boxes (and the overlay); empty when
// it has no picture.
[[nodiscard]] std::vector<std::uint8_t> picture_jpeg(const bus::RingGeometry& geometry,
                                                     std::span<const std::byte> pixels, const Placement& placement,
                                                     std::span<const LabelledBox> boxes,
                                                     const Overlay* overlay = nullptr);

}  // namespace shmyolo::pipeline
