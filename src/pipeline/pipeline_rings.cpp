#include "pipeline_rings.hpp"

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

bool PipelineRings::queues_drained() const {
  std::vector<const bus::FrameRing*> rings;
  rings.reserve(cameras_.size() + results_.size() + 1);
  for (const auto& ring : cameras_) rings.push_back(&ring);
  if (uploads_) rings.push_back(&*uploads_);
  for (const auto& ring : results_) rings.push_back(&ring);
  for (const auto* ring : rings) {
    if (ring->policy().delivery != bus::Delivery::queue) continue;
    for (std::uint32_t i = 0; i < ring->geometry().slot_count; ++i) {
      // acquire: pairs with the release that published or released the slot.
      const bus::SlotControl control{ring->descriptor(i).control.load(std::memory_order_acquire)};
      if (control.state() == bus::SlotState::ready || control.state() == bus::SlotState::claimed) return false;
    }
  }
  return true;
}

std::optional<std::string> PipelineRings::removed_segment() const {
  for (const auto* rings : {&cameras_, &results_}) {
    for (const auto& r : *rings) {
      if (r.superseded()) return r.path().string();
    }
  }
  if (uploads_ && uploads_->superseded()) return uploads_->path().string();
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
}

}  // namespace shmyolo::pipeline
