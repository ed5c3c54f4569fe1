// FrameRing on every system: the header its creator writes, moving and
// dropping a mapping, checking a header again, finding slots, health.
// Creating, attaching and removing a segment are the platform's
// (segment_posix.cpp, segment_win32.cpp).
#include <shmyolo/bus/ring.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <ctime>
#include <new>
#include <random>
#include <utility>

#include "geometry_limits.hpp"
#include "process.hpp"
#include "ring_internal.hpp"
#include "text.hpp"

namespace shmyolo::bus {

using detail::strf;

std::uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

std::uint64_t unix_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

namespace detail {
namespace {

// A random number per creation: a recreated ring differs from the old one.
std::uint64_t random_generation() {
  std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^ monotonic_ns();
}

void fill_header(RingHeader& h, const RingOptions& o, const RingGeometry& g) {
  h.layout_version = kLayoutVersion;
  h.header_bytes = sizeof(RingHeader);
  std::memset(h.name, 0, kNameBytes);
  std::memcpy(h.name, o.name.data(), o.name.size());
  h.geometry = g;
  const auto ms = [](std::chrono::milliseconds d) {
    return static_cast<std::uint32_t>(std::clamp<long long>(d.count(), 1, kMaxPolicyMs));
  };
  h.policy = RingPolicy{o.delivery, o.full_policy, ms(o.queue_wait), ms(o.lease), ms(o.stale_after), 0};
  h.creator = RingCreator{detail::self_pid(),           detail::self_uid(),  detail::self_start_ticks(),
                          detail::self_pid_namespace(), random_generation(), unix_ns()};
  h.mode = o.mode;
}

}  // namespace

RingHeader* initialise_segment(std::byte* base, const RingOptions& o, const RingGeometry& g) {
  auto* header = new (base) RingHeader{};
  fill_header(*header, o, g);
  header->heartbeat_mono_ns.store(monotonic_ns(), std::memory_order_relaxed);
  for (std::uint32_t i = 0; i < g.slot_count; ++i) {
    new (base + g.descriptors_offset + static_cast<std::uint64_t>(i) * sizeof(SlotDescriptor)) SlotDescriptor{};
  }
  header->state.store(RingState::active, std::memory_order_relaxed);
  // release: an attacher that reads the magic (acquire) sees the whole header.
  header->magic.store(kRingMagic, std::memory_order_release);
  return header;
}

BusResult<HeaderFacts> read_header_facts(const std::byte* base, std::uint64_t mapping_bytes, std::string_view where) {
  alignas(RingHeader) std::array<std::byte, sizeof(RingHeader)> copy{};
  std::memcpy(copy.data(), base, sizeof(RingHeader));
  const auto* snapshot = reinterpret_cast<const RingHeader*>(copy.data());  // NOLINT
  if (auto ok = validate_header(*snapshot, mapping_bytes, where); !ok) return std::unexpected(ok.error());
  return HeaderFacts{snapshot->geometry, snapshot->policy, snapshot->creator};
}

}  // namespace detail

FrameRing::FrameRing(FrameRing&& other) noexcept {
  *this = std::move(other);
}

FrameRing& FrameRing::operator=(FrameRing&& other) noexcept {
  if (this == &other) return *this;
  release_mapping();
  name_ = std::move(other.name_);
  path_ = std::move(other.path_);
  header_ = std::exchange(other.header_, nullptr);
  base_ = std::exchange(other.base_, nullptr);
  mapped_bytes_ = std::exchange(other.mapped_bytes_, 0);
  geometry_ = other.geometry_;
  policy_ = other.policy_;
  creator_ = other.creator_;
  device_ = other.device_;
  inode_ = other.inode_;
  owner_ = std::exchange(other.owner_, false);
  read_only_ = other.read_only_;
  cleanup_entry_ = std::exchange(other.cleanup_entry_, -1);
  segment_handle_ = std::exchange(other.segment_handle_, nullptr);
  return *this;
}

FrameRing::~FrameRing() {
  release_mapping();
}

// Copies bytes that other processes may be updating (their atomics share the
// header): the copy is only compared, and a torn one reads as damage at worst
// for one check, so the race is benign and hidden from ThreadSanitizer.
__attribute__((no_sanitize("thread"))) BusResult<void> FrameRing::check_header() const {
  alignas(RingHeader) std::array<std::byte, sizeof(RingHeader)> copy{};
  std::memcpy(copy.data(), header_, sizeof(RingHeader));
  const auto* snapshot = reinterpret_cast<const RingHeader*>(copy.data());  // NOLINT
  if (auto ok = validate_header(*snapshot, mapped_bytes_, path_.string()); !ok) return ok;
  const auto same = [](const auto& a, const auto& b) { return std::memcmp(&a, &b, sizeof a) == 0; };
  if (!same(snapshot->geometry, geometry_) || !same(snapshot->policy, policy_) || !same(snapshot->creator, creator_)) {
    return bus_error(
        BusErrc::invalid_header,
        strf("segment %s is not the ring it was: its geometry, policy or creator changed", path_.string().c_str()));
  }
  return {};
}

SlotDescriptor& FrameRing::descriptor(std::uint32_t slot) const {
  // slot < geometry_.slot_count is the caller's duty; the table fits the mapping (validated).
  auto* table = reinterpret_cast<SlotDescriptor*>(base_ + geometry_.descriptors_offset);  // NOLINT
  return table[slot];
}

std::byte* FrameRing::slot_pixels(std::uint32_t slot) const {
  return base_ + geometry_.slots_offset + static_cast<std::uint64_t>(slot) * geometry_.slot_stride;
}

RingHealth FrameRing::health() const {
  // acquire: pairs with mark_closed's release.
  if (header_->state.load(std::memory_order_acquire) == RingState::closed) return RingHealth::closed;
  // relaxed: liveness hints; a stale read only delays the verdict to the next check.
  const std::int32_t pid = header_->producer_pid.load(std::memory_order_relaxed);
  if (pid == 0) return RingHealth::no_producer;
  const bool comparable = header_->mixed_pid_namespaces.load(std::memory_order_relaxed) == 0;
  if (comparable && !detail::pid_exists(pid)) return RingHealth::stale;
  const std::uint64_t beat = header_->heartbeat_mono_ns.load(std::memory_order_relaxed);
  const std::uint64_t now = monotonic_ns();
  if (now > beat && now - beat > static_cast<std::uint64_t>(policy_.stale_ms) * 1'000'000ULL) {
    return RingHealth::stale;
  }
  return RingHealth::active;
}

}  // namespace shmyolo::bus
