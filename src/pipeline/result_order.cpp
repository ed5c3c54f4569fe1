#include "result_order.hpp"

#include <algorithm>
#include <limits>

namespace shmyolo::pipeline {

std::uint64_t oldest_in_flight(const bus::FrameRing& camera_ring) {
  std::uint64_t floor = std::numeric_limits<std::uint64_t>::max();
  for (std::uint32_t i = 0; i < camera_ring.geometry().slot_count; ++i) {
    const bus::SlotDescriptor& d = camera_ring.descriptor(i);
    // acquire: pairs with the release that made the slot ready or claimed, so
    // the frame_seq read after it is that frame's.
    const bus::SlotControl c{d.control.load(std::memory_order_acquire)};
    if (c.state() != bus::SlotState::ready && c.state() != bus::SlotState::claimed) continue;
    // relaxed: a stale value only holds a result back until the next look.
    floor = std::min(floor, d.frame_seq.load(std::memory_order_relaxed));
  }
  return floor;
}

ResultOrder::ResultOrder(std::size_t cameras, std::size_t rings, std::size_t ring_room)
    : held_(cameras), per_ring_(rings, 0), ring_room_(ring_room) {}

void ResultOrder::hold(HeldResult result) {
  const std::uint32_t camera = result.record->camera;
  const std::uint64_t seq = result.record->frame_seq;
  ++per_ring_[result.ring];
  ++held_count_;
  held_[camera].insert_or_assign(seq, std::move(result));
}

std::vector<HeldResult> ResultOrder::take(std::span<const std::uint64_t> floors, std::uint64_t now_ns,
                                          bool everything) {
  std::vector<HeldResult> out;
  const auto max_wait = static_cast<std::uint64_t>(std::chrono::nanoseconds(kMaxOrderWait).count());
  for (std::size_t c = 0; c < held_.size(); ++c) {
    auto& held = held_[c];
    // The newest result that must go now, and with it every older one.
    std::uint64_t until = 0;
    bool forced = everything;
    for (const auto& [seq, r] : held) {
      if (everything || now_ns - r.held_since_ns >= max_wait || per_ring_[r.ring] >= ring_room_) {
        until = seq;
        forced = true;
      }
    }
    while (!held.empty()) {
      auto first = held.begin();
      if (!(first->first < floors[c] || (forced && first->first <= until))) break;
      --per_ring_[first->second.ring];
      --held_count_;
      out.push_back(std::move(first->second));
      held.erase(first);
    }
  }
  return out;
}

}  // namespace shmyolo::pipeline
