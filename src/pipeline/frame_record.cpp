#include "frame_record.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

#include <fmt/format.h>

namespace shmyolo::pipeline {
namespace {

// FrameMeta::user word 0: which kind of record follows (docs/shm-layout.md).
constexpr std::uint64_t kCameraFrameKind = 1;
constexpr std::uint64_t kUploadKind = 2;
// No placement scale beyond this is real: a 1-pixel picture in the largest
// slot the bus allows (bus::kMaxDimension) is scaled 16384 times.
constexpr float kMaxScale = 16384.0F;

std::uint64_t pack(std::uint32_t low, std::uint32_t high) {
  return (static_cast<std::uint64_t>(high) << 32) | low;
}
std::uint32_t low_half(std::uint64_t word) {
  return static_cast<std::uint32_t>(word & 0xFFFFFFFFU);
}
std::uint32_t high_half(std::uint64_t word) {
  return static_cast<std::uint32_t>(word >> 32);
}

std::expected<Placement, std::string> read_placement(const bus::FrameMeta& m) {  // the error: what is wrong
  Placement p;
  p.source_width = m.source_width;
  p.source_height = m.source_height;
  p.crop_x = low_half(m.user[3]);
  p.crop_y = high_half(m.user[3]);
  p.picture_width = low_half(m.user[4]);
  p.picture_height = high_half(m.user[4]);
  p.scale_x = m.scale_x;
  p.scale_y = m.scale_y;
  p.pad_x = m.pad_x;
  p.pad_y = m.pad_y;
  const auto scale_ok = [](float s) { return std::isfinite(s) && s > 0.0F && s <= kMaxScale; };
  const auto pad_ok = [](float v) {
    return std::isfinite(v) && v >= 0.0F && v <= static_cast<float>(bus::kMaxDimension);
  };
  if (!scale_ok(p.scale_x) || !scale_ok(p.scale_y)) {
    return std::unexpected(fmt::format("scale {} x {} is not a placement scale", p.scale_x, p.scale_y));
  }
  if (!pad_ok(p.pad_x) || !pad_ok(p.pad_y)) {
    return std::unexpected(fmt::format("padding {}, {} is outside any slot", p.pad_x, p.pad_y));
  }
  if (p.picture_width == 0 || p.picture_height == 0 || std::uint64_t{p.crop_x} + p.picture_width > p.source_width ||
      std::uint64_t{p.crop_y} + p.picture_height > p.source_height) {
    return std::unexpected(fmt::format("a {}x{} picture at {}, {} does not fit its {}x{} source", p.picture_width,
                                       p.picture_height, p.crop_x, p.crop_y, p.source_width, p.source_height));
  }
  return p;
}

}  // namespace

Placement Placement::of(const detect::LetterboxTransform& t, std::uint32_t source_width, std::uint32_t source_height,
                        std::uint32_t crop_x, std::uint32_t crop_y, std::uint32_t picture_width,
                        std::uint32_t picture_height) {
  return {.source_width = source_width,
          .source_height = source_height,
          .crop_x = crop_x,
          .crop_y = crop_y,
          .picture_width = picture_width,
          .picture_height = picture_height,
          .scale_x = t.scale_x,
          .scale_y = t.scale_y,
          .pad_x = static_cast<float>(t.pad_x),
          .pad_y = static_cast<float>(t.pad_y)};
}

detect::Box Placement::to_source(const detect::Box& b) const {
  const auto x0 = static_cast<float>(crop_x);
  const auto y0 = static_cast<float>(crop_y);
  const auto x1 = x0 + static_cast<float>(picture_width);
  const auto y1 = y0 + static_cast<float>(picture_height);
  const auto map_x = [&](float x) { return std::clamp((x - pad_x) / scale_x + x0, x0, x1); };
  const auto map_y = [&](float y) { return std::clamp((y - pad_y) / scale_y + y0, y0, y1); };
  return {map_x(b.x1), map_y(b.y1), map_x(b.x2), map_y(b.y2)};
}

detect::Box Placement::to_slot(const detect::Box& b) const {
  const auto map_x = [&](float x) { return (x - static_cast<float>(crop_x)) * scale_x + pad_x; };
  const auto map_y = [&](float y) { return (y - static_cast<float>(crop_y)) * scale_y + pad_y; };
  return {map_x(b.x1), map_y(b.y1), map_x(b.x2), map_y(b.y2)};
}

detect::Box Placement::content() const {
  return {pad_x, pad_y, pad_x + static_cast<float>(picture_width) * scale_x,
          pad_y + static_cast<float>(picture_height) * scale_y};
}

void write_record(bus::FrameMeta& meta, const FrameRecord& record) {
  const Placement& p = record.placement;
  meta.source_width = p.source_width;
  meta.source_height = p.source_height;
  meta.scale_x = p.scale_x;
  meta.scale_y = p.scale_y;
  meta.pad_x = p.pad_x;
  meta.pad_y = p.pad_y;
  meta.user = {};
  meta.user[3] = pack(p.crop_x, p.crop_y);
  meta.user[4] = pack(p.picture_width, p.picture_height);
  if (const auto* frame = std::get_if<CameraFrame>(&record.origin)) {
    meta.user[0] = kCameraFrameKind;
    meta.user[1] = frame->camera;
    meta.user[2] = frame->index;
  } else {
    const auto& upload = std::get<UploadRequest>(record.origin);
    meta.user[0] = kUploadKind;
    meta.user[1] = upload.id;
    meta.user[2] =
        pack(std::bit_cast<std::uint32_t>(upload.options.iou), std::bit_cast<std::uint32_t>(upload.options.confidence));
    meta.user[5] = upload.options.classes[0];
    meta.user[6] = upload.options.classes[1];
  }
}

std::string_view to_string(RecordErrc code) {
  switch (code) {
    case RecordErrc::bad_placement: return "frame record: placement no letterbox gives";
    case RecordErrc::bad_origin: return "frame record: unknown origin";
    case RecordErrc::unknown_seq: return "frame record: sequence number never given";
    case RecordErrc::wrong_ring: return "frame record: in another ring";
  }
  return "frame record: not valid";
}

Result<FrameRecord, RecordErrc> read_record(const bus::FrameMeta& meta) {
  const auto fail = [](RecordErrc code, const std::string& what) {
    return make_error(code, fmt::format("frame record: {} (shmyolo's producers write it as docs/shm-layout.md "
                                        "describes; another program wrote this slot, or scribbled on it)",
                                        what));
  };
  auto placement = read_placement(meta);
  if (!placement) return fail(RecordErrc::bad_placement, placement.error());
  FrameRecord r{.placement = *placement, .origin = {}};
  if (meta.user[0] == kCameraFrameKind) {
    if (meta.user[1] > UINT32_MAX) {
      return fail(RecordErrc::bad_origin, fmt::format("camera {} is no camera index", meta.user[1]));
    }
    r.origin = CameraFrame{.camera = static_cast<std::uint32_t>(meta.user[1]), .index = meta.user[2]};
    return r;
  }
  if (meta.user[0] != kUploadKind) return fail(RecordErrc::bad_origin, fmt::format("unknown kind {}", meta.user[0]));
  UploadRequest upload{.id = meta.user[1], .options = {}};
  upload.options.iou = std::bit_cast<float>(low_half(meta.user[2]));
  upload.options.confidence = std::bit_cast<float>(high_half(meta.user[2]));
  upload.options.classes = {meta.user[5], meta.user[6]};
  const auto unit = [](float v) { return std::isfinite(v) && v >= 0.0F && v <= 1.0F; };
  if (!unit(upload.options.confidence) || !unit(upload.options.iou)) {
    return fail(RecordErrc::bad_origin, fmt::format("confidence {} and IoU {} must lie in 0..1",
                                                    upload.options.confidence, upload.options.iou));
  }
  r.origin = upload;
  return r;
}

std::vector<int> class_list(const std::array<std::uint64_t, 2>& mask) {
  std::vector<int> ids;
  for (int i = 0; i < kMaskableClasses; ++i) {
    if ((mask[static_cast<std::size_t>(i / 64)] >> (i % 64)) & 1U) ids.push_back(i);
  }
  return ids;
}

}  // namespace shmyolo::pipeline
