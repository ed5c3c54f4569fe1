// The typed record that every frame in a camera or uploads ring carries in
// its slot metadata: where the picture sits in the slot (Placement) and where
// the frame came from (a camera's frame, or an HTTP request with its own
// options). write_record() and read_record() are the only code that touches
// bus::FrameMeta::user, so a field's meaning never depends on who wrote it.
// The bytes are documented in docs/shm-layout.md ("shmyolo's frame record").
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <string>
#include <variant>
#include <vector>

#include <shmyolo/bus/ring.hpp>
#include <shmyolo/detect/letterbox.hpp>
#include <shmyolo/detect/types.hpp>

namespace shmyolo::pipeline {

// How source pixels became slot pixels. A crop of the source (a camera's
// region of interest; none for an upload) gives the picture, which is
// letterboxed or stretched into the slot:
//   slot = (source - crop) * scale + pad      (per axis)
struct Placement {
  std::uint32_t source_width = 0;  // the whole frame as captured or uploaded
  std::uint32_t source_height = 0;
  std::uint32_t crop_x = 0;  // the picture's top-left corner in the source
  std::uint32_t crop_y = 0;
  std::uint32_t picture_width = 0;  // the part of the source placed in the slot
  std::uint32_t picture_height = 0;
  float scale_x = 1.0F;
  float scale_y = 1.0F;
  float pad_x = 0.0F;
  float pad_y = 0.0F;

  // The letterbox's own transform of a picture with its crop in the source.
  [[nodiscard]] static Placement of(const detect::LetterboxTransform& t, std::uint32_t source_width,
                                    std::uint32_t source_height, std::uint32_t crop_x, std::uint32_t crop_y,
                                    std::uint32_t picture_width, std::uint32_t picture_height);
  // A box in slot pixels to source pixels, clipped to the picture.
  [[nodiscard]] detect::Box to_source(const detect::Box& b) const;
  // A box in source pixels to slot pixels (the live view draws there).
  [[nodiscard]] detect::Box to_slot(const detect::Box& b) const;
  // The picture's area in the slot, without the padding.
  [[nodiscard]] detect::Box content() const;
};

inline constexpr int kMaskableClasses = 128;  // two 64-bit words of the record

// An upload's own conf, iou and classes travel with its pixels.
struct UploadOptions {
  float confidence = 0.25F;
  float iou = 0.45F;
  std::array<std::uint64_t, 2> classes{};  // bit i: keep class i; none set: keep all
};

struct CameraFrame {
  std::uint32_t camera = 0;  // index in the config's camera list
  std::uint64_t index = 0;   // the source's frame number
};

struct UploadRequest {
  std::uint64_t id = 0;  // the HTTP front's request id
  UploadOptions options;
};

using Origin = std::variant<CameraFrame, UploadRequest>;

struct FrameRecord {
  Placement placement;
  Origin origin;
};

// What is wrong with a frame record another process wrote.
enum class RecordErrc {
  bad_placement,  // a scale, padding or picture no letterbox gives
  bad_origin,     // an unknown kind, camera index or upload option
  unknown_seq,    // a sequence number the ring never gave
  wrong_ring,     // a camera's frame in another camera's ring, an upload in a camera's
};

[[nodiscard]] std::string_view to_string(RecordErrc code);

using RecordError = Error<RecordErrc>;

// Writes the record into the bus's placement fields and the user words.
void write_record(bus::FrameMeta& meta, const FrameRecord& record);
// Reads and checks a record: the metadata is shared memory that another
// process wrote, so every field is checked before a box is mapped with it.
// The error names what is wrong in one line.
[[nodiscard]] Result<FrameRecord, RecordErrc> read_record(const bus::FrameMeta& meta);

// The class ids set in an upload's mask.
[[nodiscard]] std::vector<int> class_list(const std::array<std::uint64_t, 2>& mask);

}  // namespace shmyolo::pipeline
