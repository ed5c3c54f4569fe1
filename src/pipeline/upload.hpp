// What an uploaded image's frame carries in FrameMeta::user, written by the
// HTTP front and read by a worker, besides the fields every frame has
// (user[0] the request id, user[1] the camera index, here one past the last
// camera, user[2..3] no crop offset):
//   user[4], user[5]  classes to keep as a 128-bit mask of class ids (all 0: every class)
//   user[6]           confidence (high 32 bits) and IoU (low 32 bits) as float bits
// so each request's own conf, iou and classes travel with its pixels.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <vector>

#include <shmyolo/bus/ring.hpp>

namespace shmyolo::pipeline {

inline constexpr int kMaskableClasses = 128;  // two 64-bit words of FrameMeta::user

struct UploadOptions {
  float confidence = 0.25F;
  float iou = 0.45F;
  std::array<std::uint64_t, 2> classes{};  // bit i: keep class i; none set: keep all
};

inline void write_upload_options(bus::FrameMeta& meta, const UploadOptions& o) {
  meta.user[4] = o.classes[0];
  meta.user[5] = o.classes[1];
  meta.user[6] = (static_cast<std::uint64_t>(std::bit_cast<std::uint32_t>(o.confidence)) << 32) |
                 std::bit_cast<std::uint32_t>(o.iou);
}

inline UploadOptions read_upload_options(const bus::FrameMeta& meta) {
  UploadOptions o;
  o.classes = {meta.user[4], meta.user[5]};
  o.confidence = std::bit_cast<float>(static_cast<std::uint32_t>(meta.user[6] >> 32));
  o.iou = std::bit_cast<float>(static_cast<std::uint32_t>(meta.user[6] & 0xFFFFFFFFU));
  return o;
}

inline std::vector<int> class_list(const std::array<std::uint64_t, 2>& mask) {
  std::vector<int> ids;
  for (int i = 0; i < kMaskableClasses; ++i) {
    if ((mask[static_cast<std::size_t>(i / 64)] >> (i % 64)) & 1U) ids.push_back(i);
  }
  return ids;
}

}  // namespace shmyolo::pipeline
