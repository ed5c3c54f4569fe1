// The ring's layout rules that need no operating system: names, geometry,
// and the validation of a header another process wrote. The same code builds
// for Linux and for Windows (cmake/mingw-w64.cmake), where tests/bus/
// layout_test.cpp checks under Wine that both agree byte for byte.
#include <shmyolo/bus/ring.hpp>

#include <cstdlib>
#include <cstring>

#include "geometry_limits.hpp"
#include "text.hpp"

namespace shmyolo::bus {

using detail::format_bytes;
using detail::kMaxPolicyMs;
using detail::kMaxRowStride;
using detail::round_up;
using detail::strf;

std::filesystem::path default_shm_dir() {
  const char* env = std::getenv("SHMYOLO_SHM_DIR");
  if (env != nullptr && *env != '\0') return env;
  return "/dev/shm";
}

BusResult<void> check_ring_name(std::string_view name) {
  if (name.empty() || name.size() >= kNameBytes) {
    return bus_error(BusErrc::invalid_argument, strf("ring name '%.*s' must be 1 to %zu characters",
                                                     static_cast<int>(name.size()), name.data(), kNameBytes - 1));
  }
  for (const char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) {
      return bus_error(BusErrc::invalid_argument,
                       strf("ring name '%.*s' may hold only letters, digits, '.', '_' and '-'",
                            static_cast<int>(name.size()), name.data()));
    }
  }
  if (name == "." || name == "..") return bus_error(BusErrc::invalid_argument, "ring name may not be '.' or '..'");
  return {};
}

std::uint64_t segment_bytes(std::uint64_t bytes, const ShmSpace& space) {
  return (bytes + space.block_bytes - 1) / space.block_bytes * space.block_bytes;
}

std::uint32_t bytes_per_pixel(PixelFormat format) {
  switch (format) {
    case PixelFormat::gray8: return 1;
    case PixelFormat::bgr8:
    case PixelFormat::rgb8: return 3;
    case PixelFormat::bgra8:
    case PixelFormat::rgb_f32_planar: return 4;
    case PixelFormat::opaque: return 1;
  }
  return 0;
}

std::uint32_t plane_count(PixelFormat format) {
  return format == PixelFormat::rgb_f32_planar ? 3 : 1;
}

std::string_view to_string(PixelFormat format) {
  switch (format) {
    case PixelFormat::gray8: return "gray8";
    case PixelFormat::bgr8: return "bgr8";
    case PixelFormat::rgb8: return "rgb8";
    case PixelFormat::bgra8: return "bgra8";
    case PixelFormat::rgb_f32_planar: return "rgb_f32_planar";
    case PixelFormat::opaque: return "opaque";
  }
  return "unknown";
}

std::string_view to_string(Delivery delivery) {
  switch (delivery) {
    case Delivery::latest: return "latest";
    case Delivery::queue: return "queue";
  }
  return "unknown";
}

std::string_view to_string(SlotState state) {
  switch (state) {
    case SlotState::free: return "free";
    case SlotState::writing: return "writing";
    case SlotState::ready: return "ready";
    case SlotState::claimed: return "claimed";
  }
  return "invalid";
}

namespace {

bool known_format(PixelFormat f) {
  return f >= PixelFormat::gray8 && f <= PixelFormat::opaque;
}

}  // namespace

BusResult<RingGeometry> plan_geometry(const RingOptions& o) {
  if (auto ok = check_ring_name(o.name); !ok) return std::unexpected(ok.error());
  if (!known_format(o.format)) return bus_error(BusErrc::invalid_argument, "unknown pixel format");
  if (o.width == 0 || o.height == 0 || o.width > kMaxDimension || o.height > kMaxDimension) {
    return bus_error(BusErrc::invalid_argument, strf("ring %s: frame size %ux%u is outside 1..%u", o.name.c_str(),
                                                     o.width, o.height, kMaxDimension));
  }
  if (o.slot_count == 0 || o.slot_count > kMaxSlots) {
    return bus_error(BusErrc::invalid_argument,
                     strf("ring %s: %u slots is outside 1..%u", o.name.c_str(), o.slot_count, kMaxSlots));
  }
  const std::uint32_t packed = o.width * bytes_per_pixel(o.format);
  const std::uint32_t stride = o.row_stride == 0 ? packed : o.row_stride;
  if (stride < packed || stride > kMaxRowStride) {
    return bus_error(BusErrc::invalid_argument,
                     strf("ring %s: row stride %u must be at least %u bytes", o.name.c_str(), stride, packed));
  }
  RingGeometry g{};
  g.width = o.width;
  g.height = o.height;
  g.pixel_format = o.format;
  g.row_stride = stride;
  g.frame_bytes = static_cast<std::uint64_t>(stride) * o.height * plane_count(o.format);
  if (g.frame_bytes > kMaxFrameBytes) {
    return bus_error(BusErrc::invalid_argument,
                     strf("ring %s: a frame of %s exceeds the %s limit", o.name.c_str(),
                          format_bytes(g.frame_bytes).c_str(), format_bytes(kMaxFrameBytes).c_str()));
  }
  g.slot_count = o.slot_count;
  g.slot_stride = static_cast<std::uint32_t>(round_up(g.frame_bytes, kPageBytes));
  g.descriptors_offset = kPageBytes;
  g.slots_offset =
      round_up(g.descriptors_offset + static_cast<std::uint64_t>(o.slot_count) * kDescriptorBytes, kPageBytes);
  g.total_bytes = g.slots_offset + static_cast<std::uint64_t>(g.slot_stride) * o.slot_count;
  return g;
}

BusResult<std::uint64_t> bytes_needed(const RingOptions& options) {
  auto g = plan_geometry(options);
  if (!g) return std::unexpected(g.error());
  return g->total_bytes;
}

BusResult<void> validate_header(const RingHeader& h, std::uint64_t mapping_bytes, std::string_view segment) {
  const auto bad = [&](const std::string& why) {
    return bus_error(BusErrc::invalid_header,
                     strf("segment %.*s is not a valid shmyolo ring: %s; remove it with 'shmyolo gc --invalid' if "
                          "nothing else owns it",
                          static_cast<int>(segment.size()), segment.data(), why.c_str()));
  };
  if (mapping_bytes < sizeof(RingHeader)) {
    return bad(strf("file is %llu bytes, shorter than the %zu-byte header",
                    static_cast<unsigned long long>(mapping_bytes), sizeof(RingHeader)));
  }
  const std::uint64_t magic = h.magic.load(std::memory_order_acquire);
  if (magic == 0) {
    return bus_error(BusErrc::not_ready,
                     strf("segment %.*s is still being created (or its creator died while creating it)",
                          static_cast<int>(segment.size()), segment.data()));
  }
  if (magic != kRingMagic) return bad(strf("magic is 0x%016llx", static_cast<unsigned long long>(magic)));
  if (h.layout_version != kLayoutVersion) {
    return bus_error(BusErrc::version_mismatch,
                     strf("segment %.*s has layout version %u; this shmyolo reads version %u: run the same "
                          "shmyolo version on both sides",
                          static_cast<int>(segment.size()), segment.data(), h.layout_version, kLayoutVersion));
  }
  if (h.header_bytes != sizeof(RingHeader)) return bad(strf("header size is %u", h.header_bytes));
  if (std::memchr(h.name, '\0', kNameBytes) == nullptr) return bad("name is not terminated");
  const RingGeometry& g = h.geometry;
  if (!known_format(g.pixel_format))
    return bad(strf("pixel format %u is unknown", static_cast<unsigned>(g.pixel_format)));
  if (g.width == 0 || g.height == 0 || g.width > kMaxDimension || g.height > kMaxDimension) {
    return bad(strf("frame size %ux%u is impossible", g.width, g.height));
  }
  const std::uint64_t packed = static_cast<std::uint64_t>(g.width) * bytes_per_pixel(g.pixel_format);
  if (g.row_stride < packed || g.row_stride > kMaxRowStride)
    return bad(strf("row stride %u is impossible", g.row_stride));
  const std::uint64_t frame = static_cast<std::uint64_t>(g.row_stride) * g.height * plane_count(g.pixel_format);
  if (g.frame_bytes != frame || frame > kMaxFrameBytes) {
    return bad(
        strf("frame bytes %llu do not match %ux%u", static_cast<unsigned long long>(g.frame_bytes), g.width, g.height));
  }
  if (g.slot_count == 0 || g.slot_count > kMaxSlots) return bad(strf("slot count %u is impossible", g.slot_count));
  if (g.slot_stride % kPageBytes != 0 || g.slot_stride < g.frame_bytes) {
    return bad(strf("slot stride %u is not a page multiple holding a frame", g.slot_stride));
  }
  if (g.descriptors_offset != kPageBytes) return bad("descriptor table is not right after the header page");
  if (g.slots_offset % kPageBytes != 0 ||
      g.slots_offset < g.descriptors_offset + static_cast<std::uint64_t>(g.slot_count) * kDescriptorBytes ||
      g.slots_offset > kMaxFrameBytes) {
    return bad("slots overlap the descriptor table");
  }
  // Every term is bounded above (stride < 2^31, count <= 2^10), so this cannot overflow.
  const std::uint64_t end = g.slots_offset + static_cast<std::uint64_t>(g.slot_stride) * g.slot_count;
  if (end > g.total_bytes || g.total_bytes > mapping_bytes) {
    return bad(strf("%u slots of %u bytes end at byte %llu, beyond the %llu-byte file", g.slot_count, g.slot_stride,
                    static_cast<unsigned long long>(end), static_cast<unsigned long long>(mapping_bytes)));
  }
  const RingPolicy& p = h.policy;
  if (p.delivery != Delivery::latest && p.delivery != Delivery::queue) return bad("delivery mode is unknown");
  if (p.full_policy != FullPolicy::drop_oldest && p.full_policy != FullPolicy::fail)
    return bad("full policy is unknown");
  if (p.lease_ms == 0 || p.lease_ms > kMaxPolicyMs || p.stale_ms == 0 || p.stale_ms > kMaxPolicyMs ||
      p.queue_wait_ms > kMaxPolicyMs) {
    return bad("lease, stale or wait time out of range");
  }
  return {};
}

}  // namespace shmyolo::bus
