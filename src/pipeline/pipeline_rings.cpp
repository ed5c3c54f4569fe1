#include "pipeline_rings.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>

#include "statistics.hpp"

namespace shmyolo::pipeline {
namespace {

// relaxed: counters; the new ring has no producer or consumer yet.
void carry_counters(const bus::FrameRing& from, const bus::FrameRing& to, std::uint64_t lost) {
  const auto& a = from.header().counters;
  auto& b = to.header().counters;
  constexpr auto r = std::memory_order_relaxed;
  b.published.store(a.published.load(r), r);
  b.dropped.store(a.dropped.load(r) + lost, r);
  b.claimed.store(a.claimed.load(r), r);
  b.released.store(a.released.load(r), r);
  b.reclaimed.store(a.reclaimed.load(r), r);
  b.rejected.store(a.rejected.load(r), r);
  b.space_waits.store(a.space_waits.load(r), r);
  // Sequence numbers go on from where the old ring stopped, so (camera, seq)
  // stays unique for whoever removes duplicates downstream.
  to.header().next_frame_seq.store(from.header().next_frame_seq.load(r), r);
}

}  // namespace

std::optional<PipelineRings> PipelineRings::create(const RingLayout& layout) {
  PipelineRings rings;
  const auto make = [](const bus::RingOptions& o) -> std::optional<bus::FrameRing> {
    auto ring = bus::FrameRing::create(o);
    if (!ring) {
      std::fprintf(stderr, "shmyolo: %s\n", ring.error().message.c_str());
      return std::nullopt;
    }
    return std::move(*ring);
  };
  for (const auto* group : {&layout.cameras, &layout.results}) {
    auto& into = group == &layout.cameras ? rings.cameras_ : rings.results_;
    for (const auto& o : *group) {
      auto ring = make(o);
      if (!ring) return std::nullopt;
      into.push_back(std::move(*ring));
    }
  }
  if (layout.uploads) {
    rings.uploads_ = make(*layout.uploads);
    if (!rings.uploads_) return std::nullopt;
  }
  rings.feed_ = make(layout.feed);
  if (!rings.feed_) return std::nullopt;
  return rings;
}

std::optional<PipelineRings> PipelineRings::attach(const RingLayout& layout) {
  PipelineRings rings;
  for (const auto* group : {&layout.cameras, &layout.results}) {
    auto& into = group == &layout.cameras ? rings.cameras_ : rings.results_;
    for (const auto& o : *group) {
      auto ring = bus::FrameRing::attach(o.name, layout.dir);
      if (!ring) return std::nullopt;
      into.push_back(std::move(*ring));
    }
  }
  if (layout.uploads) {
    auto ring = bus::FrameRing::attach(layout.uploads->name, layout.dir);
    if (!ring) return std::nullopt;
    rings.uploads_ = std::move(*ring);
  }
  return rings;
}

void PipelineRings::take_back_frames_of(pid_t pid) const {
  for (const auto& r : cameras_) r.reclaim_claims_of(pid);
  if (uploads_) uploads_->reclaim_claims_of(pid);
  for (const auto& r : results_) r.reclaim_claims_of(pid);
}

namespace {

// A queue-mode ring holds a frame below `limit` waiting or in work.
bool holds_work(const bus::FrameRing& ring, std::uint64_t limit) {
  if (ring.policy().delivery != bus::Delivery::queue) return false;
  for (std::uint32_t i = 0; i < ring.geometry().slot_count; ++i) {
    const bus::SlotDescriptor& d = ring.descriptor(i);
    // acquire: pairs with the release that published or released the slot.
    const bus::SlotControl control{d.control.load(std::memory_order_acquire)};
    const bool busy = control.state() == bus::SlotState::ready || control.state() == bus::SlotState::claimed;
    // relaxed: a ready or claimed slot's number is the one published with it (acquire above).
    if (busy && d.frame_seq.load(std::memory_order_relaxed) < limit) return true;
  }
  return false;
}

}  // namespace

std::vector<std::uint64_t> PipelineRings::seq_limits() const {
  std::vector<std::uint64_t> limits;
  limits.reserve(cameras_.size());
  // relaxed: a number compared later with published frames' own numbers.
  for (const auto& ring : cameras_) limits.push_back(ring.header().next_frame_seq.load(std::memory_order_relaxed));
  return limits;
}

bool PipelineRings::queues_drained(const std::vector<std::uint64_t>& camera_limits) const {
  for (std::size_t c = 0; c < cameras_.size(); ++c) {
    if (holds_work(cameras_[c], c < camera_limits.size() ? camera_limits[c] : UINT64_MAX)) return false;
  }
  if (uploads_ && holds_work(*uploads_, UINT64_MAX)) return false;
  return std::ranges::none_of(results_, [](const bus::FrameRing& r) { return holds_work(r, UINT64_MAX); });
}

std::optional<std::string> PipelineRings::removed_segment() const {
  for (const auto* rings : {&cameras_, &results_}) {
    for (const auto& r : *rings) {
      if (r.superseded()) return r.path().string();
    }
  }
  if (uploads_ && uploads_->superseded()) return uploads_->path().string();
  if (feed_ && feed_->superseded()) return feed_->path().string();
  return std::nullopt;
}

std::vector<DamagedRing> PipelineRings::damaged() const {
  std::vector<DamagedRing> found;
  for (std::size_t i = 0; i < cameras_.size(); ++i) {
    if (auto ok = cameras_[i].check_header(); !ok) found.push_back({DamagedRing::Kind::camera, i, ok.error().message});
  }
  for (std::size_t i = 0; i < results_.size(); ++i) {
    if (auto ok = results_[i].check_header(); !ok) found.push_back({DamagedRing::Kind::results, i, ok.error().message});
  }
  if (uploads_) {
    if (auto ok = uploads_->check_header(); !ok) found.push_back({DamagedRing::Kind::uploads, 0, ok.error().message});
  }
  if (feed_) {
    if (auto ok = feed_->check_header(); !ok) found.push_back({DamagedRing::Kind::feed, 0, ok.error().message});
  }
  return found;
}

std::optional<std::uint32_t> PipelineRings::recreate(const DamagedRing& damage, const RingLayout& layout) {
  bus::FrameRing* ring = nullptr;
  const bus::RingOptions* options = nullptr;
  switch (damage.kind) {
    case DamagedRing::Kind::camera:
      ring = &cameras_[damage.index];
      options = &layout.cameras[damage.index];
      break;
    case DamagedRing::Kind::results:
      ring = &results_[damage.index];
      options = &layout.results[damage.index];
      break;
    case DamagedRing::Kind::uploads:
      if (!uploads_ || !layout.uploads) return std::nullopt;
      ring = &*uploads_;
      options = &*layout.uploads;
      break;
    case DamagedRing::Kind::feed:
      if (!feed_) return std::nullopt;
      ring = &*feed_;
      options = &layout.feed;
      break;
  }
  if (ring == nullptr || options == nullptr) return std::nullopt;
  bus::FrameRing& old = *ring;
  const std::uint32_t lost = ready_slots(old);
  old.close();  // tells every process still on it that it is gone, and frees the name
  auto fresh = bus::FrameRing::create(*options);
  if (!fresh) {
    std::fprintf(stderr, "shmyolo: %s\n", fresh.error().message.c_str());
    return std::nullopt;
  }
  carry_counters(old, *fresh, lost);
  old = std::move(*fresh);
  return lost;
}

bool PipelineRings::results_heartbeating() const {
  return std::ranges::any_of(results_, [](const bus::FrameRing& r) { return r.health() == bus::RingHealth::active; });
}

void PipelineRings::close() {
  for (auto& r : cameras_) r.close();
  for (auto& r : results_) r.close();
  if (uploads_) uploads_->close();
  if (feed_) feed_->close();
}

}  // namespace shmyolo::pipeline
