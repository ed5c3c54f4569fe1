// The rings as `shmyolo ls`, `inspect` and `gc` see them, on every system:
// where the names come from and how a stale ring goes are the platform's
// (catalog_platform.hpp).
#include <shmyolo/bus/catalog.hpp>

#include <algorithm>

#include <shmyolo/bus/ring.hpp>

#include "catalog_platform.hpp"
#include "process.hpp"
#include "text.hpp"

namespace shmyolo::bus {

using detail::strf;

namespace {

// A segment whose creator died while writing its header is abandoned once it
// has been left alone this long (creation itself takes microseconds).
constexpr double kAbandonedInitSeconds = 10.0;

CounterSnapshot snapshot_counters(const RingCounters& c) {
  // relaxed: statistics for display.
  constexpr auto r = std::memory_order_relaxed;
  return CounterSnapshot{c.published.load(r), c.dropped.load(r),  c.claimed.load(r),    c.released.load(r),
                         c.reclaimed.load(r), c.rejected.load(r), c.space_waits.load(r)};
}

void read_ring(const FrameRing& ring, SegmentInfo& info) {
  const RingHeader& h = ring.header();
  info.valid = true;
  info.geometry = ring.geometry();
  info.policy = ring.policy();
  info.creator = ring.creator();
  info.creator_alive = detail::process_alive(info.creator.pid, info.creator.start_ticks);
  info.state = h.state.load(std::memory_order_acquire);
  info.producer_pid = h.producer_pid.load(std::memory_order_relaxed);
  info.producer_alive =
      info.producer_pid != 0 &&
      detail::process_alive(info.producer_pid, h.producer_start_ticks.load(std::memory_order_relaxed));
  const std::uint64_t beat = h.heartbeat_mono_ns.load(std::memory_order_relaxed);
  const std::uint64_t now = monotonic_ns();
  info.heartbeat_age_ms = beat == 0 || beat > now ? -1 : static_cast<std::int64_t>((now - beat) / 1'000'000ULL);
  info.counters = snapshot_counters(h.counters);
  info.slots.clear();
  for (std::uint32_t i = 0; i < ring.geometry().slot_count; ++i) {
    const SlotDescriptor& d = ring.descriptor(i);
    const SlotControl c{d.control.load(std::memory_order_acquire)};
    SlotSnapshot s;
    s.state = c.state();
    s.owner_pid = c.pid();
    s.frame_seq = d.frame_seq.load(std::memory_order_relaxed);
    const std::uint64_t lease = d.lease_deadline_mono_ns.load(std::memory_order_relaxed);
    if (s.state == SlotState::claimed && lease != 0) {
      s.lease_left_ms = (static_cast<std::int64_t>(lease) - static_cast<std::int64_t>(now)) / 1'000'000;
    }
    info.slots.push_back(s);
  }
}

SegmentInfo describe(const std::string& name, const std::filesystem::path& dir) {
  SegmentInfo info;
  info.name = name;
  detail::read_segment_facts(name, dir, info);
  auto ring = FrameRing::attach(name, dir, Access::read_only);
  if (!ring) {
    info.valid = false;
    info.unreadable = ring.error().code == BusErrc::permission_denied;
    info.problem = ring.error().message;
    if (ring.error().code == BusErrc::not_ready) info.state = RingState::initializing;
    return info;
  }
  read_ring(*ring, info);
  if (info.file_bytes == 0) info.file_bytes = info.geometry.total_bytes;  // no file to measure (Windows)
  return info;
}

}  // namespace

bool is_stale(const SegmentInfo& info) {
  if (!info.valid)
    return info.problem.find("still being created") != std::string::npos && info.age_seconds > kAbandonedInitSeconds;
  return !info.creator_alive || info.state == RingState::closed;
}

BusResult<std::vector<SegmentInfo>> list_segments(const std::filesystem::path& dir) {
  auto names = detail::segment_names(dir);
  if (!names) return std::unexpected(names.error());
  std::vector<SegmentInfo> out;
  out.reserve(names->size());
  for (const auto& name : *names) out.push_back(describe(name, dir));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

BusResult<SegmentInfo> inspect_segment(const std::string& name, const std::filesystem::path& dir) {
  if (auto ok = check_ring_name(name); !ok) return std::unexpected(ok.error());
  auto ring = FrameRing::attach(name, dir, Access::read_only);
  if (!ring && (ring.error().code == BusErrc::not_found || ring.error().code == BusErrc::permission_denied)) {
    return std::unexpected(ring.error());
  }
  return describe(name, dir);
}

GcResult collect_garbage(const std::filesystem::path& dir, bool dry_run, bool remove_invalid) {
  GcResult result;
  auto segments = list_segments(dir);
  if (!segments) {
    result.errors.push_back(segments.error().message);
    return result;
  }
  for (const SegmentInfo& s : *segments) {
    const bool remove = !s.unreadable && (is_stale(s) || (remove_invalid && !s.valid));
    if (!remove) {
      result.kept.push_back(s.name);
      if (s.unreadable) {
        result.invalid_kept.push_back(
            strf("%s: cannot be read by this user (file owner uid %u); only its owner or "
                 "root can tell whether it is in use",
                 s.name.c_str(), s.file_uid));
      } else if (!s.valid) {
        result.invalid_kept.push_back(s.name + ": " + s.problem + " (gc --invalid removes it)");
      }
      continue;
    }
    if (!dry_run) {
      if (auto error = detail::remove_stale_segment(s, dir); !error.empty()) {
        result.errors.push_back(std::move(error));
        continue;
      }
    }
    result.removed.push_back(s.name);
  }
  return result;
}

}  // namespace shmyolo::bus
