#include "status_segment.hpp"

#include <fmt/format.h>

namespace shmyolo::pipeline {
namespace {

constexpr std::uint64_t kLayout = kStatusLayoutTag ^ sizeof(PipelineStatus);
constexpr std::uint32_t kRowBytes = 4096;  // opaque rings carry bytes as rows; 4096 keeps rows page-sized

}  // namespace

bus::RingOptions status_ring_options(const std::string& pipeline, const std::filesystem::path& dir) {
  bus::RingOptions o;
  o.name = fmt::format("shmyolo.{}.status", pipeline);
  o.dir = dir;
  o.format = bus::PixelFormat::opaque;
  o.width = kRowBytes;
  o.height = static_cast<std::uint32_t>((sizeof(PipelineStatus) + kRowBytes - 1) / kRowBytes);
  o.slot_count = 1;
  return o;
}

bus::BusResult<StatusSegment> create_status(const bus::RingOptions& options) {
  auto ring = bus::FrameRing::create(options);
  if (!ring) return std::unexpected(ring.error());
  auto* status = new (ring->slot_pixels(0)) PipelineStatus{};  // slots are page-aligned
  // release: an attacher that reads the tag (acquire) sees the zeroed status.
  status->layout.store(kLayout, std::memory_order_release);
  return StatusSegment{std::move(*ring), status};
}

bus::BusResult<StatusSegment> attach_status(const std::string& name, const std::filesystem::path& dir) {
  auto ring = bus::FrameRing::attach(name, dir);
  if (!ring) return std::unexpected(ring.error());
  const auto& g = ring->geometry();
  auto* status = reinterpret_cast<PipelineStatus*>(ring->slot_pixels(0));  // NOLINT: the creator placed it there
  // acquire: pairs with create_status's release.
  if (g.slot_count != 1 || g.frame_bytes < sizeof(PipelineStatus) ||
      status->layout.load(std::memory_order_acquire) != kLayout) {
    return bus::bus_error(bus::BusErrc::version_mismatch,
                          fmt::format("segment {} in {} holds the status of another shmyolo build: run the same "
                                      "shmyolo version in every container of the pipeline",
                                      name, dir.string()));
  }
  return StatusSegment{std::move(*ring), status};
}

}  // namespace shmyolo::pipeline
