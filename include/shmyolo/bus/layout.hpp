// The byte layout of a shmyolo frame ring in shared memory, version 2.
//
// This header is the contract between processes: every struct here is
// standard-layout, fixed-size and mapped directly over the segment file.
// docs/shm-layout.md describes the same bytes and the protocol for programs
// written in other languages. Any change to a field's offset or meaning
// bumps kLayoutVersion.
//
//   offset 0                       RingHeader (one page)
//   descriptors_offset             SlotDescriptor[slot_count] (256 B each)
//   slots_offset + i * slot_stride pixels of slot i (page-aligned)
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace shmyolo::bus {

// Offsets are fixed multiples of 4 KiB so that the layout does not depend on
// the page size of whichever process maps it.
inline constexpr std::uint32_t kPageBytes = 4096;
// "SHMYOLO1": reads as text in a hex dump. It stays the same across layout
// versions, so a ring of another version is named as such (version_mismatch)
// rather than as a file that is no ring at all.
inline constexpr std::uint64_t kRingMagic = 0x314F4C4F594D4853ULL;  // "SHMYOLO1"
// 2: separate horizontal and vertical scales (models that stretch rather
// than letterbox); 1 had one scale for both.
inline constexpr std::uint32_t kLayoutVersion = 2;
inline constexpr std::uint32_t kDescriptorBytes = 256;
inline constexpr std::uint32_t kMaxSlots = 1024;
inline constexpr std::uint32_t kMaxDimension = 16384;
inline constexpr std::uint64_t kMaxFrameBytes = 1ULL << 30;
inline constexpr std::size_t kNameBytes = 96;

enum class PixelFormat : std::uint32_t {
  gray8 = 1,           // 1 byte per pixel
  bgr8 = 2,            // 3 bytes per pixel, OpenCV's order
  rgb8 = 3,            // 3 bytes per pixel
  bgra8 = 4,           // 4 bytes per pixel
  rgb_f32_planar = 5,  // 3 planes of float32: a model input tensor, CHW
  opaque = 6,          // width bytes per row, no pixel meaning (encoded images, tensors)
};

enum class Delivery : std::uint32_t {
  latest = 1,  // producer never waits; the newest frame wins
  queue = 2,   // nothing is lost while consumers keep up; bounded wait for space
};

enum class FullPolicy : std::uint32_t {
  drop_oldest = 1,  // queue mode: after the wait, overwrite the oldest unclaimed frame
  fail = 2,         // queue mode: after the wait, the publish attempt fails
};

enum class RingState : std::uint32_t {
  initializing = 0,  // creator is still writing the header
  active = 1,
  closed = 2,  // creator has shut the ring down; the file is (being) unlinked
};

enum class SlotState : std::uint32_t {
  free = 0,
  writing = 1,  // owned by the producer
  ready = 2,    // a complete frame, unclaimed
  claimed = 3,  // owned by one consumer; never overwritten
};

// Slot control word: state in bits 0..7, a transition counter in bits 8..31
// (defeats ABA in compare-and-swap), the owning pid in bits 32..63.
struct SlotControl {
  std::uint64_t word = 0;

  [[nodiscard]] SlotState state() const { return static_cast<SlotState>(word & 0xFF); }
  [[nodiscard]] std::uint32_t tag() const { return static_cast<std::uint32_t>((word >> 8) & 0xFFFFFF); }
  [[nodiscard]] std::int32_t pid() const { return static_cast<std::int32_t>(word >> 32); }
  [[nodiscard]] SlotControl next(SlotState s, std::int32_t owner) const {
    const std::uint64_t tag_next = (static_cast<std::uint64_t>(tag()) + 1) & 0xFFFFFF;
    return SlotControl{(static_cast<std::uint64_t>(static_cast<std::uint32_t>(owner)) << 32) | (tag_next << 8) |
                       static_cast<std::uint64_t>(s)};
  }
};

// Written once by the creator before `magic` is stored (release); read-only after.
struct RingGeometry {
  std::uint32_t width;
  std::uint32_t height;
  PixelFormat pixel_format;
  std::uint32_t row_stride;   // bytes from one row to the next
  std::uint64_t frame_bytes;  // bytes of one frame, <= slot_stride
  std::uint32_t slot_count;
  std::uint32_t slot_stride;  // bytes from one slot to the next; multiple of kPageBytes
  std::uint64_t descriptors_offset;
  std::uint64_t slots_offset;
  std::uint64_t total_bytes;  // file size the creator reserved
};

struct RingPolicy {
  Delivery delivery;
  FullPolicy full_policy;
  std::uint32_t queue_wait_ms;  // queue mode: how long a producer waits for space
  std::uint32_t lease_ms;       // a claim not released within this is reclaimed
  std::uint32_t stale_ms;       // producer heartbeat older than this: ring is stale
  std::uint32_t reserved;
};

struct RingCreator {
  std::int32_t pid;
  std::uint32_t uid;
  std::uint64_t start_ticks;    // /proc/<pid>/stat field 22: tells a reused pid apart
  std::uint64_t pid_namespace;  // inode of /proc/<pid>/ns/pid
  std::uint64_t generation;     // random per creation: a recreated ring differs
  std::uint64_t created_unix_ns;
};

struct RingCounters {
  std::atomic<std::uint64_t> published;
  std::atomic<std::uint64_t> dropped;  // published frames overwritten or discarded unclaimed
  std::atomic<std::uint64_t> claimed;
  std::atomic<std::uint64_t> released;
  std::atomic<std::uint64_t> reclaimed;    // claims taken back from dead or late consumers
  std::atomic<std::uint64_t> rejected;     // frames refused: no slot (latest: all claimed; queue: fail policy)
  std::atomic<std::uint64_t> space_waits;  // queue mode: times the producer had to wait
  std::atomic<std::uint64_t> reserved;
};

struct alignas(kPageBytes) RingHeader {
  std::atomic<std::uint64_t> magic;  // stored last by the creator (release)
  std::uint32_t layout_version;
  std::uint32_t header_bytes;
  char name[kNameBytes];
  RingGeometry geometry;
  RingPolicy policy;
  RingCreator creator;
  std::uint32_t mode;  // file mode bits the creator asked for
  std::uint32_t reserved0;

  // Producer side (cache line of its own: written on every frame).
  alignas(64) std::atomic<RingState> state;
  std::atomic<std::uint32_t> mixed_pid_namespaces;  // 1: pids cannot be checked across processes
  std::atomic<std::int32_t> producer_pid;
  std::atomic<std::uint32_t> reserved1;
  std::atomic<std::uint64_t> producer_start_ticks;
  std::atomic<std::uint64_t> heartbeat_mono_ns;
  std::atomic<std::uint64_t> next_frame_seq;

  // Doorbells (futex words, 32-bit as the kernel requires).
  alignas(64) std::atomic<std::uint32_t> frame_bell;  // bumped on publish and close
  std::atomic<std::uint32_t> frame_waiters;
  std::atomic<std::uint32_t> space_bell;  // bumped on release, for a waiting producer
  std::atomic<std::uint32_t> space_waiters;

  alignas(64) RingCounters counters;
};

struct SlotDescriptor {
  std::atomic<std::uint64_t> control;                 // SlotControl
  std::atomic<std::uint64_t> seqlock;                 // odd while the producer writes the slot
  std::atomic<std::uint64_t> lease_deadline_mono_ns;  // 0: not yet set by the claimer
  std::atomic<std::uint64_t> frame_seq;               // readable without owning the slot

  // Frame metadata: written by the producer while it owns the slot, read by
  // the consumer that claimed it (both ordered by the control word).
  std::uint64_t capture_unix_ns;
  std::uint64_t capture_mono_ns;
  std::uint64_t publish_mono_ns;
  std::uint64_t payload_bytes;
  std::uint32_t source_width;  // frame size before any letterbox
  std::uint32_t source_height;
  float scale_x;  // placement: slot = source * scale + pad, per axis
  float scale_y;
  float pad_x;
  float pad_y;
  std::uint32_t flags;
  std::uint32_t reserved0;
  std::uint64_t user[8];  // application data (a checksum, a camera id)
  std::uint8_t reserved[96];
};

static_assert(sizeof(RingHeader) == kPageBytes);
static_assert(sizeof(SlotDescriptor) == kDescriptorBytes);
static_assert(offsetof(RingHeader, geometry) == 112);
static_assert(offsetof(RingHeader, policy) == 168);
static_assert(offsetof(RingHeader, creator) == 192);
static_assert(offsetof(RingHeader, state) == 256);
static_assert(offsetof(RingHeader, frame_bell) == 320);
static_assert(offsetof(RingHeader, counters) == 384);
static_assert(offsetof(SlotDescriptor, scale_x) == 72);
static_assert(offsetof(SlotDescriptor, pad_x) == 80);
static_assert(offsetof(SlotDescriptor, flags) == 88);
static_assert(offsetof(SlotDescriptor, user) == 96);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

}  // namespace shmyolo::bus
