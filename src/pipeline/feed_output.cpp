#include "feed_output.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include <shmyolo/pipeline/feed.hpp>

namespace shmyolo::pipeline {

std::unique_ptr<FeedOutput> FeedOutput::open(const Context& ctx) {
  auto ring = bus::FrameRing::attach(ctx.feed_ring, ctx.shm_dir);
  if (!ring) {
    std::fprintf(stderr, "shmyolo: aggregator: %s\n", ring.error().message.c_str());
    return nullptr;
  }
  std::unique_ptr<FeedOutput> out(new FeedOutput(std::move(*ring)));
  auto producer = bus::Producer::attach(out->ring_);
  if (!producer) {
    std::fprintf(stderr, "shmyolo: aggregator: %s\n", producer.error().message.c_str());
    return nullptr;
  }
  out->producer_ = std::make_unique<bus::Producer>(std::move(*producer));
  return out;
}

void FeedOutput::publish(const ResultRecord& record, std::span<const std::uint64_t> track_ids) {
  auto slot = producer_->acquire();  // latest delivery: never waits, replaces the oldest record
  if (!slot) return;
  const std::size_t room = (slot->pixels().size() - kFeedHeaderBytes) / sizeof(FeedDetection);
  const std::uint32_t count = std::min<std::uint32_t>(record.count, static_cast<std::uint32_t>(room));
  auto* out = reinterpret_cast<FeedRecord*>(slot->pixels().data());  // NOLINT: slots are page-aligned bytes
  FeedRecord head{};
  head.camera = record.camera;
  head.worker = record.worker;
  head.frame_seq = record.frame_seq;
  head.source_index = record.source_index;
  head.capture_unix_ns = record.capture_unix_ns;
  head.capture_mono_ns = record.capture_mono_ns;
  head.done_mono_ns = record.done_mono_ns;
  head.source_width = record.source_width;
  head.source_height = record.source_height;
  head.count = count;
  head.flags = track_ids.empty() ? 0 : kFeedTracked;
  std::memcpy(out, &head, kFeedHeaderBytes);
  for (std::uint32_t i = 0; i < count; ++i) {
    const ResultDetection& d = record.detections[i];
    const FeedDetection f{.class_id = d.class_id,
                          .score = d.score,
                          .x1 = d.x1,
                          .y1 = d.y1,
                          .x2 = d.x2,
                          .y2 = d.y2,
                          .track_id = i < track_ids.size() ? track_ids[i] : 0};
    std::memcpy(&out->detections[i], &f, sizeof f);  // NOLINT: `count` detections fit the slot (room)
  }
  bus::FrameMeta meta;
  meta.capture_unix_ns = record.capture_unix_ns;
  meta.capture_mono_ns = record.capture_mono_ns;
  meta.payload_bytes = feed_record_bytes(count);
  producer_->publish(*slot, meta);
}

}  // namespace shmyolo::pipeline
