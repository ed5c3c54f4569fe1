#include "ring_layout.hpp"

#include <cstdio>

#include <fmt/format.h>
#include <shmyolo/pipeline/feed.hpp>
#include <shmyolo/pipeline/result.hpp>

#include "status_segment.hpp"

namespace shmyolo::pipeline {
namespace {

constexpr std::uint64_t kMiB = 1ULL << 20;
constexpr std::uint32_t kFeedSlots = 128;

// Longer than a worker may legitimately hold a frame: the supervisor
// replaces a stuck worker first, and its claim returns once it is dead.
std::chrono::milliseconds lease_of(const config::PipelineConfig& config) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(config.workers.stuck_after_s * 1000) + 5000);
}

bus::RingOptions camera_ring(const config::PipelineConfig& config, const ModelFacts& model, std::size_t c,
                             const std::filesystem::path& dir) {
  const auto& cam = config.cameras[c];
  bus::RingOptions o;
  o.name = fmt::format("shmyolo.{}.cam.{}", config.name, cam.name);
  o.dir = dir;
  o.width = static_cast<std::uint32_t>(model.input_width);
  o.height = static_cast<std::uint32_t>(model.input_height);
  // One slot per worker that may hold a frame of this camera, one being written, one ready.
  o.slot_count =
      cam.slots > 0 ? cam.slots : static_cast<std::uint32_t>(config.workers.count * config.workers.batch + 2);
  o.delivery = cam.delivery;
  o.full_policy = bus::FullPolicy::fail;  // queue mode: ingest waits for space, never drops
  o.queue_wait = std::chrono::milliseconds(200);
  o.lease = lease_of(config);
  return o;
}

// HTTP uploads, decoded and letterboxed by the front, claimed by any worker.
// The front admits upload_queue() of them at once and answers 503 past it.
// A worker publishes an upload's result before it releases the slot, so the
// answer can reach the client, and its next upload arrive, while the slot is
// still held: one more slot per frame a worker can hold (workers x batch)
// keeps such an upload from finding the ring full.
bus::RingOptions upload_ring(const config::PipelineConfig& config, const ModelFacts& model,
                             const std::filesystem::path& dir) {
  bus::RingOptions o;
  o.name = fmt::format("shmyolo.{}.uploads", config.name);
  o.dir = dir;
  o.width = static_cast<std::uint32_t>(model.input_width);
  o.height = static_cast<std::uint32_t>(model.input_height);
  o.slot_count = static_cast<std::uint32_t>(upload_queue(config)) +
                 static_cast<std::uint32_t>(config.workers.count * config.workers.batch);
  o.delivery = bus::Delivery::queue;
  o.full_policy = bus::FullPolicy::fail;
  o.queue_wait = std::chrono::milliseconds(1);  // the shortest wait: a full queue is answered, not waited on
  o.lease = lease_of(config);
  return o;
}

bus::RingOptions result_ring(const config::PipelineConfig& config, int worker, const std::filesystem::path& dir) {
  bus::RingOptions o;
  o.name = fmt::format("shmyolo.{}.results.{}", config.name, worker);
  o.dir = dir;
  o.format = bus::PixelFormat::opaque;
  // Opaque bytes as rows of 4096 (ring frames are at most 16384 wide).
  o.width = 4096;
  o.height = static_cast<std::uint32_t>((sizeof(ResultRecord) + 4095) / 4096);
  o.slot_count = kResultSlots;
  o.delivery = bus::Delivery::queue;
  o.full_policy = bus::FullPolicy::fail;
  o.queue_wait = std::chrono::milliseconds(200);
  return o;
}

// Every camera result after ordering and tracking, for readers that follow
// without claiming. 128 records: a reader that stops for 0.5 s at 250 results/s
// (this machine's two workers at 320) still misses none.
bus::RingOptions feed_ring(const config::PipelineConfig& config, const std::filesystem::path& dir) {
  bus::RingOptions o;
  o.name = fmt::format("shmyolo.{}.detections", config.name);
  o.dir = dir;
  o.format = bus::PixelFormat::opaque;
  // Opaque bytes as rows of 4096, like the results rings.
  o.width = 4096;
  o.height = static_cast<std::uint32_t>((feed_record_bytes(config.model.max_detections) + 4095) / 4096);
  o.slot_count = kFeedSlots;
  o.delivery = bus::Delivery::latest;
  return o;
}

}  // namespace

std::vector<bus::RingOptions> RingLayout::all() const {
  std::vector<bus::RingOptions> rings = cameras;
  rings.insert(rings.end(), results.begin(), results.end());
  if (uploads) rings.push_back(*uploads);
  rings.push_back(feed);
  rings.push_back(status);
  return rings;
}

std::filesystem::path shm_dir_of(const config::PipelineConfig& config) {
  return config.shm_dir.empty() ? bus::default_shm_dir() : config.shm_dir;
}

std::size_t upload_queue(const config::PipelineConfig& config) {
  const int queue = config.http && config.http->queue > 0 ? config.http->queue : 2 * config.workers.count;
  return static_cast<std::size_t>(queue);
}

RingLayout ring_layout(const config::PipelineConfig& config, const ModelFacts& model) {
  RingLayout layout{.dir = shm_dir_of(config), .cameras = {}, .results = {}, .uploads = {}, .feed = {}, .status = {}};
  for (std::size_t c = 0; c < config.cameras.size(); ++c) {
    layout.cameras.push_back(camera_ring(config, model, c, layout.dir));
  }
  for (int w = 0; w < config.workers.count; ++w) layout.results.push_back(result_ring(config, w, layout.dir));
  if (config.http) layout.uploads = upload_ring(config, model, layout.dir);
  layout.feed = feed_ring(config, layout.dir);
  layout.status = status_ring_options(config.name, layout.dir);
  return layout;
}

void name_rings(Context& ctx, const RingLayout& layout) {
  ctx.shm_dir = layout.dir;
  ctx.camera_rings.clear();
  ctx.result_rings.clear();
  for (const auto& o : layout.cameras) ctx.camera_rings.push_back(o.name);
  for (const auto& o : layout.results) ctx.result_rings.push_back(o.name);
  ctx.upload_ring = layout.uploads ? layout.uploads->name : std::string();
  ctx.feed_ring = layout.feed.name;
}

std::optional<ShmPlan> plan_for(const RingLayout& layout) {
  ShmPlan plan;
  plan.dir = layout.dir;
  const auto space = bus::shm_space(plan.dir).value_or(bus::ShmSpace{});  // a missing folder: refused later
  for (const auto& o : layout.all()) {
    auto bytes = bus::bytes_needed(o);
    if (!bytes) {
      std::fprintf(stderr, "shmyolo: %s\n", bytes.error().message.c_str());
      return std::nullopt;
    }
    plan.segments.push_back({o.name, bus::segment_bytes(*bytes, space)});
    plan.total_bytes += plan.segments.back().bytes;
  }
  // Headroom: a quarter more plus 8 MiB, for a second pipeline starting while
  // the first one's segments are still being removed.
  plan.recommended_bytes = ((plan.total_bytes + plan.total_bytes / 4 + 8 * kMiB + kMiB - 1) / kMiB) * kMiB;
  return plan;
}

}  // namespace shmyolo::pipeline
