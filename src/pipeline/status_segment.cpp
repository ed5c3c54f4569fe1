#include "status_segment.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace shmyolo::pipeline {
namespace {

constexpr std::uint32_t kRowBytes = 4096;  // opaque rings carry bytes as rows; 4096 keeps rows page-sized

// Copies `text` into a NUL-terminated field, cut to fit.
template <std::size_t N>
void put(std::array<char, N>& field, const std::string& text) {
  const std::size_t n = std::min(text.size(), N - 1);
  std::copy_n(text.begin(), n, field.begin());
  field[n] = '\0';
}

void fill_facts(PipelineFacts& facts, const config::PipelineConfig& config, const ModelFacts& model) {
  facts.camera_count = static_cast<std::uint32_t>(std::min<std::size_t>(config.cameras.size(), kMaxCameras));
  for (std::size_t c = 0; c < facts.camera_count; ++c) {
    put(facts.cameras[c], config.cameras[c].name);
    facts.external[c] = config.cameras[c].kind == config::SourceKind::external ? 1 : 0;
  }
  facts.class_count = static_cast<std::uint32_t>(std::min<std::size_t>(model.names.size(), kMaxClassNames));
  for (std::size_t i = 0; i < facts.class_count; ++i) put(facts.classes[i], model.names[i]);
  facts.letterbox = model.preprocessing.letterbox ? 1 : 0;
  facts.centered = model.preprocessing.centered ? 1 : 0;
  facts.pad_value = model.preprocessing.pad_value;
}

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

bus::BusResult<StatusSegment> create_status(const bus::RingOptions& options, const config::PipelineConfig& config,
                                            const ModelFacts& model) {
  auto ring = bus::FrameRing::create(options);
  if (!ring) return std::unexpected(ring.error());
  auto* status = new (ring->slot_pixels(0)) PipelineStatus{};  // slots are page-aligned
  fill_facts(status->facts, config, model);
  // release: an attacher that reads the tag (acquire) sees the zeroed status.
  status->layout.store(kStatusLayout, std::memory_order_release);
  return StatusSegment{std::move(*ring), status};
}

bus::BusResult<StatusSegment> attach_status(const std::string& name, const std::filesystem::path& dir) {
  auto ring = bus::FrameRing::attach(name, dir);
  if (!ring) return std::unexpected(ring.error());
  const auto& g = ring->geometry();
  auto* status = reinterpret_cast<PipelineStatus*>(ring->slot_pixels(0));  // NOLINT: the creator placed it there
  // acquire: pairs with create_status's release.
  if (g.slot_count != 1 || g.frame_bytes < sizeof(PipelineStatus) ||
      status->layout.load(std::memory_order_acquire) != kStatusLayout) {
    return bus::bus_error(bus::BusErrc::version_mismatch,
                          fmt::format("segment {} in {} holds the status of another shmyolo build: run the same "
                                      "shmyolo version in every container of the pipeline",
                                      name, dir.string()));
  }
  return StatusSegment{std::move(*ring), status};
}

}  // namespace shmyolo::pipeline
