// The ring protocol: producer, consumers, claims, reclaiming and peeking.
//
// Ownership of a slot moves only by compare-and-swap on its control word
// (state + transition counter + owner pid), so exactly one process owns a
// slot at a time. The control word uses seq_cst: besides handing the slot's
// contents over (acquire/release would do), its loads and stores take part in
// the store-buffer handshake with the doorbell waiter counts, which needs one
// total order. On x86 this costs nothing beyond the locked cmpxchg.
#include <shmyolo/bus/ring.hpp>

#include <algorithm>
#include <climits>
#include <cstring>
#include <functional>
#include <utility>
#include <vector>

#include "futex.hpp"
#include "process.hpp"
#include "text.hpp"

namespace shmyolo::bus {

using detail::strf;

namespace {

constexpr auto kSc = std::memory_order_seq_cst;
// A sleeping waiter wakes at least this often to notice a dead producer and to
// reclaim dead consumers' slots (no process signals those events).
constexpr std::chrono::milliseconds kWaitSlice{100};
constexpr std::chrono::milliseconds kReclaimInterval{100};

SlotControl load_control(const SlotDescriptor& d) {
  return SlotControl{d.control.load(kSc)};
}

bool swap_control(SlotDescriptor& d, SlotControl expected, SlotControl desired) {
  std::uint64_t e = expected.word;
  return d.control.compare_exchange_strong(e, desired.word, kSc);
}

std::uint64_t ms_to_ns(std::uint32_t ms) {
  return static_cast<std::uint64_t>(ms) * 1'000'000ULL;
}

// Rings the doorbell after a state change others may be sleeping on. The
// seq_cst increment and waiter load pair with the waiter's seq_cst increment
// of the waiter count and load of the bell (see Consumer::claim).
void ring_bell(std::atomic<std::uint32_t>& bell, const std::atomic<std::uint32_t>& waiters) {
  bell.fetch_add(1, kSc);
  // seq_cst: the bell was rung first; a waiter announced after this load
  // reads the new bell and does not sleep, so the announced ones are all.
  if (const std::uint32_t n = waiters.load(kSc); n > 0) {
    detail::futex_wake(bell, static_cast<int>(std::min<std::uint32_t>(n, INT_MAX)));
  }
}

bool pids_comparable(const RingHeader& h) {
  // relaxed: a hint; reading 0 late only means pid checks run once more.
  return h.mixed_pid_namespaces.load(std::memory_order_relaxed) == 0;
}

void fill_meta(SlotDescriptor& d, const FrameMeta& m, std::uint64_t frame_bytes) {
  d.capture_unix_ns = m.capture_unix_ns;
  d.capture_mono_ns = m.capture_mono_ns;
  d.source_width = m.source_width;
  d.source_height = m.source_height;
  d.scale_x = m.scale_x;
  d.scale_y = m.scale_y;
  d.pad_x = m.pad_x;
  d.pad_y = m.pad_y;
  d.payload_bytes = m.payload_bytes == 0 ? frame_bytes : std::min(m.payload_bytes, frame_bytes);
  std::copy(m.user.begin(), m.user.end(), std::begin(d.user));
}

FrameInfo read_info(const SlotDescriptor& d, std::uint32_t slot) {
  FrameInfo info;
  info.slot = slot;
  info.frame_seq = d.frame_seq.load(std::memory_order_relaxed);
  info.publish_mono_ns = d.publish_mono_ns;
  info.meta.capture_unix_ns = d.capture_unix_ns;
  info.meta.capture_mono_ns = d.capture_mono_ns;
  info.meta.source_width = d.source_width;
  info.meta.source_height = d.source_height;
  info.meta.scale_x = d.scale_x;
  info.meta.scale_y = d.scale_y;
  info.meta.pad_x = d.pad_x;
  info.meta.pad_y = d.pad_y;
  info.meta.payload_bytes = d.payload_bytes;
  std::copy(std::begin(d.user), std::end(d.user), info.meta.user.begin());
  return info;
}

}  // namespace

// ---------------------------------------------------------------- reclaiming

std::uint32_t FrameRing::reclaim_stale_claims() const {
  return reclaim_claims(0);
}

std::uint32_t FrameRing::reclaim_claims_of(std::int32_t pid) const {
  return pid > 0 ? reclaim_claims(pid) : 0;
}

std::uint32_t FrameRing::reclaim_claims(std::int32_t known_dead) const {
  if (read_only_) return 0;
  RingHeader& h = *header_;
  const bool comparable = pids_comparable(h);
  // The caller's word (it reaped that pid) outranks liveness checks, which
  // are off while pids of several namespaces share the ring.
  const auto dead = [&](std::int32_t pid) {
    return known_dead != 0 ? pid == known_dead : comparable && !detail::pid_exists(pid);
  };
  const std::uint64_t now = monotonic_ns();
  const bool queue = policy_.delivery == Delivery::queue;
  std::uint32_t reclaimed = 0;
  bool readied = false;
  for (std::uint32_t i = 0; i < geometry_.slot_count; ++i) {
    SlotDescriptor& d = descriptor(i);
    const SlotControl c = load_control(d);
    const SlotState s = c.state();
    if (s == SlotState::free || s == SlotState::ready) continue;
    if (s == SlotState::writing) {
      // A producer that died mid-write: its frame was never published.
      if (dead(c.pid()) && swap_control(d, c, c.next(SlotState::free, 0))) ++reclaimed;
      continue;
    }
    if (s != SlotState::claimed) {
      // A scribbled state: put the slot back in service rather than lose it.
      if (swap_control(d, c, c.next(SlotState::free, 0))) ++reclaimed;
      continue;
    }
    // relaxed: the lease is a timestamp; ordering comes from the control word.
    std::uint64_t lease = d.lease_deadline_mono_ns.load(std::memory_order_relaxed);
    if (lease == 0) {
      // Claimed but the claimer has not stamped its lease yet (or died before
      // it could): start the clock now, so even that claim expires.
      d.lease_deadline_mono_ns.compare_exchange_strong(lease, now + ms_to_ns(policy_.lease_ms),
                                                       std::memory_order_relaxed);
      continue;
    }
    const bool expired = now > lease;
    if (!expired && !dead(c.pid())) continue;
    d.lease_deadline_mono_ns.store(0, std::memory_order_relaxed);
    if (!swap_control(d, c, c.next(queue ? SlotState::ready : SlotState::free, 0))) continue;
    ++reclaimed;
    // relaxed: statistics.
    h.counters.reclaimed.fetch_add(1, std::memory_order_relaxed);
    if (queue) {
      readied = true;  // re-delivered: the frame is intact, claims never write
    } else {
      h.counters.dropped.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (reclaimed > 0) ring_bell(h.space_bell, h.space_waiters);
  if (readied) ring_bell(h.frame_bell, h.frame_waiters);
  return reclaimed;
}

// ---------------------------------------------------------------- producer

BusResult<Producer> Producer::attach(FrameRing& ring) {
  RingHeader& h = ring.header();
  if (h.state.load(std::memory_order_acquire) == RingState::closed) {
    return bus_error(BusErrc::closed, strf("ring %s is closed", ring.name().c_str()));
  }
  const std::int32_t me = detail::self_pid();
  const std::uint64_t my_start = detail::self_start_ticks();
  std::int32_t current = h.producer_pid.load(kSc);
  while (true) {
    if (current == me) break;
    if (current != 0) {
      const std::uint64_t start = h.producer_start_ticks.load(std::memory_order_relaxed);
      const bool alive =
          pids_comparable(h) ? detail::process_alive(current, start) : ring.health() != RingHealth::stale;
      if (alive) {
        return bus_error(BusErrc::producer_busy, strf("ring %s already has a producer, pid %d; one producer per ring",
                                                      ring.name().c_str(), current));
      }
    }
    if (h.producer_pid.compare_exchange_weak(current, me, kSc)) break;
  }
  h.producer_start_ticks.store(my_start, std::memory_order_relaxed);
  h.heartbeat_mono_ns.store(monotonic_ns(), std::memory_order_relaxed);
  // Slots a previous producer left half-written will never be published.
  for (std::uint32_t i = 0; i < ring.geometry().slot_count; ++i) {
    SlotDescriptor& d = ring.descriptor(i);
    const SlotControl c = load_control(d);
    if (c.state() == SlotState::writing) swap_control(d, c, c.next(SlotState::free, 0));
  }
  Producer p(ring);
  p.pid_ = me;
  return p;
}

Producer::Producer(Producer&& other) noexcept
    : ring_(std::exchange(other.ring_, nullptr)), pid_(std::exchange(other.pid_, 0)), next_slot_(other.next_slot_) {}

Producer::~Producer() {
  if (ring_ == nullptr) return;
  std::int32_t me = pid_;
  ring_->header().producer_pid.compare_exchange_strong(me, 0, kSc);
}

void Producer::heartbeat() {
  // relaxed: a timestamp compared against a multi-second threshold.
  ring_->header().heartbeat_mono_ns.store(monotonic_ns(), std::memory_order_relaxed);
}

bool Producer::try_take_slot(WriteSlot& out, bool allow_overwrite) {
  const RingGeometry& g = ring_->geometry();
  std::uint32_t chosen = g.slot_count;  // slot_count: none yet
  SlotControl chosen_control{};
  std::uint32_t oldest_ready = g.slot_count;
  SlotControl oldest_control{};
  std::uint64_t oldest_seq = UINT64_MAX;
  for (std::uint32_t k = 0; k < g.slot_count && chosen == g.slot_count; ++k) {
    const std::uint32_t i = (next_slot_ + k) % g.slot_count;
    SlotDescriptor& d = ring_->descriptor(i);
    const SlotControl c = load_control(d);
    if (c.state() == SlotState::free) {
      const SlotControl mine = c.next(SlotState::writing, pid_);
      if (swap_control(d, c, mine)) {
        chosen = i;
        chosen_control = mine;
      }
    } else if (allow_overwrite && c.state() == SlotState::ready) {
      const std::uint64_t seq = d.frame_seq.load(std::memory_order_relaxed);
      if (seq < oldest_seq) {
        oldest_seq = seq;
        oldest_ready = i;
        oldest_control = c;
      }
    }
  }
  if (chosen == g.slot_count) {
    if (oldest_ready == g.slot_count) return false;
    const SlotControl mine = oldest_control.next(SlotState::writing, pid_);
    // Fails if a consumer claimed it meanwhile: claimed slots are never overwritten.
    if (!swap_control(ring_->descriptor(oldest_ready), oldest_control, mine)) return false;
    chosen = oldest_ready;
    chosen_control = mine;
    // relaxed: statistics.
    ring_->header().counters.dropped.fetch_add(1, std::memory_order_relaxed);
  }
  next_slot_ = (chosen + 1) % g.slot_count;
  SlotDescriptor& d = ring_->descriptor(chosen);
  // Seqlock writer: odd while writing. The release fence keeps the pixel
  // writes that follow from becoming visible before the odd value.
  const std::uint64_t s = d.seqlock.load(std::memory_order_relaxed);
  d.seqlock.store(s | 1U, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  out.pixels_ = std::span<std::byte>(ring_->slot_pixels(chosen), g.frame_bytes);
  out.index_ = chosen;
  out.control_ = chosen_control.word;
  return true;
}

void Producer::wait_for_space(std::chrono::steady_clock::time_point deadline) {
  RingHeader& h = ring_->header();
  const auto left = deadline - std::chrono::steady_clock::now();
  if (left <= std::chrono::nanoseconds::zero()) return;
  h.space_waiters.fetch_add(1, kSc);
  const std::uint32_t bell = h.space_bell.load(kSc);
  bool free_now = false;
  for (std::uint32_t i = 0; i < ring_->geometry().slot_count && !free_now; ++i) {
    free_now = load_control(ring_->descriptor(i)).state() == SlotState::free;
  }
  if (!free_now) detail::futex_wait(h.space_bell, bell, std::min<std::chrono::nanoseconds>(left, kWaitSlice));
  h.space_waiters.fetch_sub(1, kSc);
}

BusResult<WriteSlot> Producer::acquire() {
  RingHeader& h = ring_->header();
  heartbeat();
  if (h.state.load(std::memory_order_acquire) == RingState::closed) {
    return bus_error(BusErrc::closed, strf("ring %s is closed", ring_->name().c_str()));
  }
  WriteSlot slot;
  const RingPolicy& p = ring_->policy();
  if (p.delivery == Delivery::latest) {
    if (try_take_slot(slot, true)) return slot;
    ring_->reclaim_stale_claims();
    if (try_take_slot(slot, true)) return slot;
    // Every slot is claimed: this frame is refused, the camera does not wait.
    h.counters.rejected.fetch_add(1, std::memory_order_relaxed);
    return bus_error(BusErrc::ring_full,
                     strf("ring %s: all %u slots are claimed; frame dropped (give the ring more slots than it has "
                          "consumers)",
                          ring_->name().c_str(), ring_->geometry().slot_count));
  }
  if (try_take_slot(slot, false)) return slot;
  h.counters.space_waits.fetch_add(1, std::memory_order_relaxed);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(p.queue_wait_ms);
  auto next_reclaim = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() < deadline) {
    if (std::chrono::steady_clock::now() >= next_reclaim) {
      ring_->reclaim_stale_claims();
      next_reclaim = std::chrono::steady_clock::now() + kReclaimInterval;
    }
    if (try_take_slot(slot, false)) return slot;
    if (h.state.load(std::memory_order_acquire) == RingState::closed) {
      return bus_error(BusErrc::closed, strf("ring %s is closed", ring_->name().c_str()));
    }
    wait_for_space(deadline);
    heartbeat();
  }
  if (try_take_slot(slot, false)) return slot;
  if (p.full_policy == FullPolicy::drop_oldest && try_take_slot(slot, true)) return slot;
  h.counters.rejected.fetch_add(1, std::memory_order_relaxed);
  return bus_error(BusErrc::ring_full, strf("ring %s: no free slot after waiting %u ms; consumers are not keeping up",
                                            ring_->name().c_str(), p.queue_wait_ms));
}

std::uint64_t Producer::publish(WriteSlot& slot, const FrameMeta& meta) {
  RingHeader& h = ring_->header();
  SlotDescriptor& d = ring_->descriptor(slot.index_);
  // relaxed: only this producer increments it.
  const std::uint64_t seq = h.next_frame_seq.fetch_add(1, std::memory_order_relaxed);
  fill_meta(d, meta, ring_->geometry().frame_bytes);
  d.publish_mono_ns = monotonic_ns();
  d.frame_seq.store(seq, std::memory_order_relaxed);
  d.lease_deadline_mono_ns.store(0, std::memory_order_relaxed);
  // Seqlock writer: even again; release orders the frame before it for peekers.
  const std::uint64_t s = d.seqlock.load(std::memory_order_relaxed);
  d.seqlock.store(s + 1, std::memory_order_release);
  const SlotControl mine{slot.control_};
  if (swap_control(d, mine, mine.next(SlotState::ready, 0))) {
    h.counters.published.fetch_add(1, std::memory_order_relaxed);
  }
  h.heartbeat_mono_ns.store(d.publish_mono_ns, std::memory_order_relaxed);
  slot = WriteSlot{};
  ring_bell(h.frame_bell, h.frame_waiters);
  return seq;
}

void Producer::abandon(WriteSlot& slot) {
  if (!slot.valid()) return;
  SlotDescriptor& d = ring_->descriptor(slot.index_);
  d.publish_mono_ns = 0;  // half-written pixels: peek_latest skips a slot never published
  const std::uint64_t s = d.seqlock.load(std::memory_order_relaxed);
  d.seqlock.store(s + 1, std::memory_order_release);
  const SlotControl mine{slot.control_};
  swap_control(d, mine, mine.next(SlotState::free, 0));
  slot = WriteSlot{};
}

// ---------------------------------------------------------------- claims

Claim::Claim(Claim&& other) noexcept {
  *this = std::move(other);
}

Claim& Claim::operator=(Claim&& other) noexcept {
  if (this == &other) return *this;
  if (valid()) (void)release();
  ring_ = std::exchange(other.ring_, nullptr);
  pixels_ = other.pixels_;
  info_ = other.info_;
  control_ = other.control_;
  return *this;
}

Claim::~Claim() {
  if (valid()) (void)release();
}

void Claim::renew() const {
  if (!valid()) return;
  const std::uint64_t deadline = monotonic_ns() + ms_to_ns(ring_->policy().lease_ms);
  ring_->descriptor(info_.slot).lease_deadline_mono_ns.store(deadline, std::memory_order_relaxed);
}

BusResult<void> Claim::release() {
  if (!valid()) return {};
  const FrameRing& ring = *std::exchange(ring_, nullptr);
  SlotDescriptor& d = ring.descriptor(info_.slot);
  RingHeader& h = ring.header();
  const SlotControl mine{control_};
  d.lease_deadline_mono_ns.store(0, std::memory_order_relaxed);
  if (!swap_control(d, mine, mine.next(SlotState::free, 0))) {
    return bus_error(BusErrc::claim_lost,
                     strf("ring %s: frame %llu was held past its %u ms lease and was reclaimed", ring.name().c_str(),
                          static_cast<unsigned long long>(info_.frame_seq), ring.policy().lease_ms));
  }
  h.counters.released.fetch_add(1, std::memory_order_relaxed);
  ring_bell(h.space_bell, h.space_waiters);
  return {};
}

// ---------------------------------------------------------------- consumer

Consumer::Consumer(FrameRing& ring, ConsumerOptions options)
    : ring_(&ring), options_(options), pid_(detail::self_pid()) {}

BusResult<Claim> Consumer::take(std::uint32_t slot, std::uint64_t control) {
  SlotDescriptor& d = ring_->descriptor(slot);
  const SlotControl seen{control};
  const SlotControl mine = seen.next(SlotState::claimed, pid_);
  if (!swap_control(d, seen, mine)) return bus_error(BusErrc::timeout);
  // relaxed: ordering comes from the control word (see reclaim_stale_claims).
  d.lease_deadline_mono_ns.store(monotonic_ns() + ms_to_ns(ring_->policy().lease_ms), std::memory_order_relaxed);
  Claim claim;
  claim.ring_ = ring_;
  claim.control_ = mine.word;
  claim.info_ = read_info(d, slot);
  const std::uint64_t frame_bytes = ring_->geometry().frame_bytes;
  // Untrusted: a payload size beyond the slot must not become an out-of-bounds span.
  if (claim.info_.meta.payload_bytes > frame_bytes) {
    const std::uint64_t bad = claim.info_.meta.payload_bytes;
    (void)claim.release();
    return bus_error(
        BusErrc::invalid_header,
        strf("ring %s: slot %u claims a %llu-byte payload in a %llu-byte frame; frame skipped", ring_->name().c_str(),
             slot, static_cast<unsigned long long>(bad), static_cast<unsigned long long>(frame_bytes)));
  }
  claim.pixels_ = std::span<const std::byte>(ring_->slot_pixels(slot), frame_bytes);
  ring_->header().counters.claimed.fetch_add(1, std::memory_order_relaxed);
  return claim;
}

BusResult<Claim> Consumer::try_claim() {
  const RingGeometry& g = ring_->geometry();
  const bool newest_first = ring_->policy().delivery == Delivery::latest;
  // Bounded retries: each failed swap means another consumer took a frame.
  for (std::uint32_t attempt = 0; attempt <= g.slot_count * 2; ++attempt) {
    std::uint32_t best = g.slot_count;
    std::uint64_t best_seq = 0;
    std::uint64_t best_control = 0;
    for (std::uint32_t i = 0; i < g.slot_count; ++i) {
      const SlotDescriptor& d = ring_->descriptor(i);
      const SlotControl c = load_control(d);
      if (c.state() != SlotState::ready) continue;
      const std::uint64_t seq = d.frame_seq.load(std::memory_order_relaxed);
      if (best == g.slot_count || (newest_first ? seq > best_seq : seq < best_seq)) {
        best = i;
        best_seq = seq;
        best_control = c.word;
      }
    }
    if (best == g.slot_count) return bus_error(BusErrc::timeout);
    auto claim = take(best, best_control);
    if (!claim && claim.error().code == BusErrc::timeout) continue;
    if (claim && newest_first) {
      // latest: frames older than the one taken are stale; free them for the camera.
      for (std::uint32_t i = 0; i < g.slot_count; ++i) {
        SlotDescriptor& d = ring_->descriptor(i);
        const SlotControl c = load_control(d);
        if (c.state() == SlotState::ready && d.frame_seq.load(std::memory_order_relaxed) < claim->info().frame_seq &&
            swap_control(d, c, c.next(SlotState::free, 0))) {
          ring_->header().counters.dropped.fetch_add(1, std::memory_order_relaxed);
        }
      }
    }
    return claim;
  }
  return bus_error(BusErrc::timeout);
}

BusResult<void> Consumer::check_health() {
  switch (ring_->health()) {
    case RingHealth::closed:
      return bus_error(BusErrc::closed, strf("ring %s was closed by its creator", ring_->name().c_str()));
    case RingHealth::stale:
      return bus_error(BusErrc::producer_gone,
                       strf("ring %s is stale: its producer (pid %d) died or stopped sending heartbeats for %u ms",
                            ring_->name().c_str(), ring_->header().producer_pid.load(std::memory_order_relaxed),
                            ring_->policy().stale_ms));
    case RingHealth::active:
    case RingHealth::no_producer: return {};
  }
  return {};
}

void Consumer::maybe_reclaim() {
  const auto now = std::chrono::steady_clock::now();
  if (now < next_reclaim_) return;
  next_reclaim_ = now + kReclaimInterval;
  ring_->reclaim_stale_claims();
}

BusResult<Claim> Consumer::claim(std::chrono::nanoseconds timeout) {
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + timeout;
  const auto spin_until = start + options_.spin;
  RingHeader& h = ring_->header();
  while (true) {
    auto got = try_claim();
    if (got || got.error().code != BusErrc::timeout) return got;
    const auto now = std::chrono::steady_clock::now();
    if (now < spin_until && now < deadline) continue;  // opt-in busy poll
    if (auto ok = check_health(); !ok) return std::unexpected(ok.error());
    maybe_reclaim();
    if (now >= deadline) return bus_error(BusErrc::timeout);
    // Announce the sleep, then look once more: a publish between the look
    // and the sleep changes the bell, so futex_wait returns at once.
    h.frame_waiters.fetch_add(1, kSc);
    const std::uint32_t bell = h.frame_bell.load(kSc);
    got = try_claim();
    if (got || got.error().code != BusErrc::timeout) {
      h.frame_waiters.fetch_sub(1, kSc);
      return got;
    }
    detail::futex_wait(h.frame_bell, bell, std::min<std::chrono::nanoseconds>(deadline - now, kWaitSlice));
    h.frame_waiters.fetch_sub(1, kSc);
  }
}

BusResult<Claim> claim_any(std::span<Consumer* const> consumers, std::chrono::nanoseconds timeout) {
  if (consumers.empty()) return bus_error(BusErrc::invalid_argument, "claim_any needs at least one ring");
  // Round robin: the next look starts after the ring last served, so a ring
  // that follows empty ones is not served again before the others.
  thread_local std::size_t rotation = 0;
  const std::size_t n = consumers.size();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const auto try_all = [&]() -> BusResult<Claim> {
    const std::size_t first = rotation % n;
    for (std::size_t k = 0; k < n; ++k) {
      auto got = consumers[(first + k) % n]->try_claim();
      if (got) {
        rotation = first + k + 1;
        return got;
      }
    }
    return bus_error(BusErrc::timeout);
  };
  std::vector<detail::FutexWaitEntry> entries(n);
  while (true) {
    if (auto got = try_all()) return got;
    for (Consumer* c : consumers) c->maybe_reclaim();
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return bus_error(BusErrc::timeout);
    for (std::size_t i = 0; i < n; ++i) {
      RingHeader& h = consumers[i]->ring().header();
      h.frame_waiters.fetch_add(1, kSc);
      entries[i] = {&h.frame_bell, h.frame_bell.load(kSc)};
    }
    auto got = try_all();
    if (!got) {
      const auto slice = std::min<std::chrono::nanoseconds>(deadline - now, kWaitSlice);
      if (!detail::futex_wait_any(entries, slice)) {
        // No futex_waitv (Linux < 5.16): poll the first ring's bell in short naps.
        detail::futex_wait(*entries[0].word, entries[0].expected,
                           std::min<std::chrono::nanoseconds>(slice, std::chrono::milliseconds(1)));
      }
    }
    for (Consumer* c : consumers) c->ring().header().frame_waiters.fetch_sub(1, kSc);
    if (got) return got;
  }
}

// ---------------------------------------------------------------- observers

// A seqlock reader copies memory that the producer may be writing at the same
// moment and discards the copy when the sequence moved: a benign race by
// design, hidden from ThreadSanitizer.
namespace {

// Copies the frame of the slot `pick` chooses (or timeout when it chooses
// none). A free slot still holds the frame a worker has finished with, and
// is the newest one most of the time when workers keep up; the seqlock
// catches a producer that takes the slot while we copy. (A producer that
// does not stamp publish_mono_ns, like the numpy one in docs/shm-layout.md,
// still has its ready and claimed frames peeked.)
template <class Pick>
__attribute__((no_sanitize("thread"))) BusResult<FrameInfo> peek(const FrameRing& ring, std::span<std::byte> out,
                                                                 Pick pick) {
  const RingGeometry& g = ring.geometry();
  constexpr int kAttempts = 100;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    const std::uint32_t best = pick();
    if (best == g.slot_count) return bus_error(BusErrc::timeout);
    const SlotDescriptor& d = ring.descriptor(best);
    // acquire: if we see an even value, we see the frame written before it.
    const std::uint64_t before = d.seqlock.load(std::memory_order_acquire);
    if ((before & 1U) != 0) continue;
    FrameInfo info = read_info(d, best);
    std::memcpy(out.data(), ring.slot_pixels(best), std::min<std::uint64_t>(out.size(), g.frame_bytes));
    // acquire fence: the copy above happens before the re-read below.
    std::atomic_thread_fence(std::memory_order_acquire);
    if (d.seqlock.load(std::memory_order_relaxed) == before && info.meta.payload_bytes <= g.frame_bytes) return info;
  }
  return bus_error(BusErrc::timeout, strf("ring %s: every peek was overwritten mid-copy", ring.name().c_str()));
}

// Reads publish_mono_ns, which the producer writes unordered: the seqlock in
// peek() judges the copy, so a stale value here costs only a retry.
__attribute__((no_sanitize("thread"))) bool peekable(const SlotDescriptor& d) {
  const SlotState s = load_control(d).state();
  return !(s == SlotState::writing || (s == SlotState::free && d.publish_mono_ns == 0));
}

}  // namespace

namespace {

// The peekable slot whose frame `wanted` accepts and `before` ranks first
// (before(a, b): a is preferred to b); slot_count when there is none.
template <class Wanted, class Before>
std::uint32_t pick_slot(const FrameRing& ring, Wanted wanted, Before before) {
  const std::uint32_t slots = ring.geometry().slot_count;
  std::uint32_t best = slots;
  std::uint64_t best_seq = 0;
  for (std::uint32_t i = 0; i < slots; ++i) {
    const SlotDescriptor& d = ring.descriptor(i);
    if (!peekable(d)) continue;
    const std::uint64_t seq = d.frame_seq.load(std::memory_order_relaxed);
    if (wanted(seq) && (best == slots || before(seq, best_seq))) {
      best = i;
      best_seq = seq;
    }
  }
  return best;
}

constexpr auto kAny = [](std::uint64_t) { return true; };

}  // namespace

BusResult<FrameInfo> peek_latest(const FrameRing& ring, std::span<std::byte> out) {
  return peek(ring, out, [&ring] { return pick_slot(ring, kAny, std::greater<>()); });
}

BusResult<FrameInfo> peek_frame(const FrameRing& ring, std::uint64_t seq, std::span<std::byte> out) {
  auto info = peek(ring, out, [&ring, seq] {
    return pick_slot(
        ring, [seq](std::uint64_t s) { return s == seq; }, std::less<>());
  });
  // The slot may have taken a newer frame between the pick and the copy.
  if (info && info->frame_seq != seq) return bus_error(BusErrc::timeout);
  return info;
}

BusResult<FrameInfo> peek_from(const FrameRing& ring, std::uint64_t from, std::span<std::byte> out) {
  auto info = peek(ring, out, [&ring, from] {
    return pick_slot(
        ring, [from](std::uint64_t s) { return s >= from; }, std::less<>());
  });
  // A slot overwritten between the pick and the copy holds a newer frame,
  // still at or after `from` (the reader then counts the one it replaced as
  // missed); only a smaller number, which no producer writes, is refused.
  if (info && info->frame_seq < from) return bus_error(BusErrc::timeout);
  return info;
}

BusResult<FrameInfo> wait_from(const FrameRing& ring, std::uint64_t from, std::span<std::byte> out,
                               std::chrono::nanoseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  RingHeader& h = ring.header();
  while (true) {
    auto got = peek_from(ring, from, out);
    if (got || got.error().code != BusErrc::timeout || !got.error().message.empty()) return got;
    if (ring.health() == RingHealth::closed) {
      return bus_error(BusErrc::closed, strf("ring %s was closed by its creator", ring.name().c_str()));
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return got;
    // The consumer's handshake (Consumer::claim): announce the sleep, read
    // the bell, look once more, then sleep while the bell is unchanged.
    h.frame_waiters.fetch_add(1, kSc);
    const std::uint32_t bell = h.frame_bell.load(kSc);
    got = peek_from(ring, from, out);
    if (!got && got.error().code == BusErrc::timeout && got.error().message.empty()) {
      detail::futex_wait(h.frame_bell, bell, std::min<std::chrono::nanoseconds>(deadline - now, kWaitSlice));
    }
    h.frame_waiters.fetch_sub(1, kSc);
    if (got || got.error().code != BusErrc::timeout || !got.error().message.empty()) return got;
  }
}

}  // namespace shmyolo::bus
