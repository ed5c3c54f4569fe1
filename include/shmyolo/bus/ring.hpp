// Frame rings: the shared-memory segments that carry frames between processes.
//
// A FrameRing is one mapping of one segment. Its creator owns the file and
// unlinks it when the ring is destroyed; any other process attaches by name.
// On top of a mapping sit the roles:
//   Producer  writes a frame straight into a free slot and publishes it;
//   Consumer  claims one ready frame (exactly one consumer gets each frame),
//             reads the pixels in place and releases the slot;
//   peek_latest  copies the newest frame without claiming it (dashboards).
//
//   auto ring = FrameRing::create({.name = "shmyolo.demo.cam0", .width = 640,
//                                  .height = 480}).value();
//   auto producer = Producer::attach(ring).value();
//   auto slot = producer.acquire().value();
//   render(slot.pixels());
//   producer.publish(slot, {.capture_unix_ns = now});
//
//   // in another process
//   auto ring = FrameRing::attach("shmyolo.demo.cam0").value();
//   Consumer consumer(ring);
//   if (auto claim = consumer.claim(100ms)) use(claim->pixels());
//
// Nothing here allocates or takes a lock on the frame path; waiting sleeps on
// a futex in the segment. All of it depends on libc and pthreads alone.
#pragma once

#include <sys/types.h>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <shmyolo/bus/error.hpp>
#include <shmyolo/bus/layout.hpp>

namespace shmyolo::bus {

// /dev/shm, or $SHMYOLO_SHM_DIR when set (a container volume, a hugetlbfs mount).
[[nodiscard]] std::filesystem::path default_shm_dir();

// What a shared-memory folder can still hold. On hugetlbfs (huge_pages),
// block_bytes is the huge page size and free_bytes what the kernel's pool of
// free huge pages allows.
struct ShmSpace {
  std::uint64_t free_bytes = 0;
  std::uint64_t block_bytes = 4096;
  bool huge_pages = false;
};
[[nodiscard]] std::optional<ShmSpace> shm_space(const std::filesystem::path& dir);
// A segment's file size in that folder: whole blocks (huge pages on hugetlbfs).
[[nodiscard]] std::uint64_t segment_bytes(std::uint64_t bytes, const ShmSpace& space);
// The one-line advice when a hugetlbfs folder has too few free huge pages.
[[nodiscard]] std::string huge_page_advice(std::uint64_t needed, const ShmSpace& space);

// Names are [A-Za-z0-9._-], 1..95 characters, e.g. "shmyolo.<pipeline>.<ring>".
[[nodiscard]] BusResult<void> check_ring_name(std::string_view name);

struct RingOptions {
  std::string name;
  std::filesystem::path dir = default_shm_dir();
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  PixelFormat format = PixelFormat::bgr8;
  std::uint32_t row_stride = 0;  // 0: rows packed
  std::uint32_t slot_count = 4;
  Delivery delivery = Delivery::latest;
  FullPolicy full_policy = FullPolicy::drop_oldest;
  std::chrono::milliseconds queue_wait{1000};
  std::chrono::milliseconds lease{5000};
  std::chrono::milliseconds stale_after{3000};
  mode_t mode = 0600;         // 0660 to let the owner's group attach
  bool replace_stale = true;  // remove a leftover segment of a dead creator first
};

// Bytes per pixel row element and planes for a format (opaque: 1 byte, 1 plane).
[[nodiscard]] std::uint32_t bytes_per_pixel(PixelFormat format);
[[nodiscard]] std::uint32_t plane_count(PixelFormat format);
[[nodiscard]] std::string_view to_string(PixelFormat format);
[[nodiscard]] std::string_view to_string(Delivery delivery);
[[nodiscard]] std::string_view to_string(SlotState state);

// The geometry a ring with these options gets, or why the options are invalid.
[[nodiscard]] BusResult<RingGeometry> plan_geometry(const RingOptions& options);
// Size of the segment file, header and padding included.
[[nodiscard]] BusResult<std::uint64_t> bytes_needed(const RingOptions& options);

// Checks a copy of a header against the size of its mapping. Every field
// another process could have scribbled on is checked before it is used.
[[nodiscard]] BusResult<void> validate_header(const RingHeader& header, std::uint64_t mapping_bytes,
                                              std::string_view segment);

enum class Access { read_write, read_only };

enum class RingHealth {
  active,       // a live producer (or none attached yet)
  no_producer,  // no producer attached
  stale,        // the producer died or stopped beating
  closed,       // the creator closed the ring
};

class FrameRing {
 public:
  static BusResult<FrameRing> create(const RingOptions& options);
  static BusResult<FrameRing> attach(std::string_view name, const std::filesystem::path& dir = default_shm_dir(),
                                     Access access = Access::read_write);

  FrameRing(FrameRing&& other) noexcept;
  FrameRing& operator=(FrameRing&& other) noexcept;
  FrameRing(const FrameRing&) = delete;
  FrameRing& operator=(const FrameRing&) = delete;
  ~FrameRing();

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  [[nodiscard]] bool owner() const { return owner_; }
  // Validated copies taken at attach: later scribbles cannot change them.
  [[nodiscard]] const RingGeometry& geometry() const { return geometry_; }
  [[nodiscard]] const RingPolicy& policy() const { return policy_; }
  [[nodiscard]] const RingCreator& creator() const { return creator_; }
  [[nodiscard]] std::uint64_t mapped_bytes() const { return mapped_bytes_; }

  [[nodiscard]] RingHeader& header() const { return *header_; }
  [[nodiscard]] SlotDescriptor& descriptor(std::uint32_t slot) const;
  [[nodiscard]] std::byte* slot_pixels(std::uint32_t slot) const;

  [[nodiscard]] RingHealth health() const;
  // Takes back claims whose lease ran out or whose owner died (queue: the
  // frame is ready again; latest: it is dropped). Returns how many.
  std::uint32_t reclaim_stale_claims() const;
  // Takes back at once the claims (and half-written slots) of a process the
  // caller knows is dead, e.g. a child it has just reaped. Needed where pids
  // of several namespaces share the ring and liveness checks are off, so
  // that only leases would bring the frames back.
  std::uint32_t reclaim_claims_of(std::int32_t pid) const;
  // Creator: marks the ring closed, wakes every waiter, unlinks the file.
  void close();
  // A ring is superseded when its file was unlinked or replaced by a new one.
  [[nodiscard]] bool superseded() const;
  // Whether the header in shared memory still reads as the ring this process
  // attached: valid for a new attacher, with the same geometry, policy and
  // creator. A scribbled header would refuse every process that (re)starts.
  [[nodiscard]] BusResult<void> check_header() const;

 private:
  FrameRing() = default;
  void release_mapping() noexcept;
  std::uint32_t reclaim_claims(std::int32_t known_dead) const;  // 0: judge by liveness

  std::string name_;
  std::filesystem::path path_;
  RingHeader* header_ = nullptr;
  std::byte* base_ = nullptr;
  std::uint64_t mapped_bytes_ = 0;
  RingGeometry geometry_{};
  RingPolicy policy_{};
  RingCreator creator_{};
  dev_t device_ = 0;
  ino_t inode_ = 0;
  bool owner_ = false;
  bool read_only_ = false;
  int cleanup_entry_ = -1;
  // Windows: the mapping's handle, kept while the ring is mapped, since a
  // named object's name lives only as long as a handle to it (unused on POSIX).
  void* segment_handle_ = nullptr;
};

// What travels with a frame besides its pixels.
struct FrameMeta {
  std::uint64_t capture_unix_ns = 0;
  std::uint64_t capture_mono_ns = 0;
  std::uint32_t source_width = 0;
  std::uint32_t source_height = 0;
  // Where the frame sits in the slot: slot pixel = source pixel * scale + pad
  // (a letterbox has one scale for both axes, a stretch two).
  float scale_x = 1.0F;
  float scale_y = 1.0F;
  float pad_x = 0.0F;
  float pad_y = 0.0F;
  std::uint64_t payload_bytes = 0;  // 0: the whole frame
  std::array<std::uint64_t, 8> user{};
};

struct FrameInfo {
  std::uint32_t slot = 0;
  std::uint64_t frame_seq = 0;
  std::uint64_t publish_mono_ns = 0;
  FrameMeta meta;
};

class WriteSlot {
 public:
  WriteSlot() = default;
  [[nodiscard]] std::span<std::byte> pixels() const { return pixels_; }
  [[nodiscard]] std::uint32_t index() const { return index_; }
  [[nodiscard]] bool valid() const { return control_ != 0; }

 private:
  friend class Producer;
  std::span<std::byte> pixels_;
  std::uint32_t index_ = 0;
  std::uint64_t control_ = 0;  // the control word this producer wrote
};

class Producer {
 public:
  // Takes the producer role; refuses while another live producer holds it.
  static BusResult<Producer> attach(FrameRing& ring);
  Producer(Producer&& other) noexcept;
  Producer& operator=(Producer&&) = delete;
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;
  ~Producer();

  // A free slot to write into. latest: never waits, overwrites the oldest
  // unclaimed frame; queue: waits up to the ring's queue_wait, then applies
  // its full policy.
  [[nodiscard]] BusResult<WriteSlot> acquire();
  // Makes the frame visible to consumers; returns its sequence number.
  std::uint64_t publish(WriteSlot& slot, const FrameMeta& meta);
  // Gives an acquired slot back unpublished.
  void abandon(WriteSlot& slot);
  // Producers with no frame to send (a camera reconnecting) call this so
  // consumers do not take the ring for stale.
  void heartbeat();

 private:
  explicit Producer(FrameRing& ring) : ring_(&ring) {}
  [[nodiscard]] bool try_take_slot(WriteSlot& out, bool allow_overwrite);
  void wait_for_space(std::chrono::steady_clock::time_point deadline);

  FrameRing* ring_ = nullptr;
  std::int32_t pid_ = 0;
  // Where the search for a free slot starts: the slot after the last one
  // taken, so frames rotate through the slots and the newest published
  // frame stays whole while the next is written (peek_latest finds it).
  std::uint32_t next_slot_ = 0;
};

class Claim {
 public:
  Claim() = default;
  Claim(Claim&& other) noexcept;
  Claim& operator=(Claim&& other) noexcept;
  Claim(const Claim&) = delete;
  Claim& operator=(const Claim&) = delete;
  ~Claim();

  [[nodiscard]] std::span<const std::byte> pixels() const { return pixels_; }
  [[nodiscard]] const FrameInfo& info() const { return info_; }
  [[nodiscard]] const FrameRing& ring() const { return *ring_; }
  [[nodiscard]] bool valid() const { return ring_ != nullptr; }
  // Extends the lease by the ring's lease time from now.
  void renew() const;
  // Frees the slot. claim_lost if the lease had run out and it was reclaimed.
  BusResult<void> release();

 private:
  friend class Consumer;
  const FrameRing* ring_ = nullptr;
  std::span<const std::byte> pixels_;
  FrameInfo info_;
  std::uint64_t control_ = 0;
};

struct ConsumerOptions {
  // Poll this long before sleeping: trades a core for a few microseconds.
  std::chrono::microseconds spin{0};
};

class Consumer {
 public:
  explicit Consumer(FrameRing& ring, ConsumerOptions options = {});
  // One ready frame, or timeout / producer_gone / closed / invalid_header.
  [[nodiscard]] BusResult<Claim> claim(std::chrono::nanoseconds timeout);
  [[nodiscard]] BusResult<Claim> try_claim();
  [[nodiscard]] FrameRing& ring() const { return *ring_; }

 private:
  friend BusResult<Claim> claim_any(std::span<Consumer* const>, std::chrono::nanoseconds);
  [[nodiscard]] BusResult<Claim> take(std::uint32_t slot, std::uint64_t control);
  [[nodiscard]] BusResult<void> check_health();
  void maybe_reclaim();

  FrameRing* ring_;
  ConsumerOptions options_;
  std::int32_t pid_;
  std::chrono::steady_clock::time_point next_reclaim_{};
};

// Waits on several rings at once (a worker serving many cameras) and claims
// from whichever has a frame; the ring tried first rotates so that no ring
// starves another. Sleeps on all rings' doorbells with one futex_waitv call.
[[nodiscard]] BusResult<Claim> claim_any(std::span<Consumer* const> consumers, std::chrono::nanoseconds timeout);

// Copies the newest complete frame into `out` without claiming it. A
// concurrent overwrite is detected by the slot's sequence lock and retried,
// so the copy is never torn. Returns the frame's info.
[[nodiscard]] BusResult<FrameInfo> peek_latest(const FrameRing& ring, std::span<std::byte> out);
// The same for frame `seq`, while a slot still holds it; timeout once it is
// gone (overwritten by newer frames).
[[nodiscard]] BusResult<FrameInfo> peek_frame(const FrameRing& ring, std::uint64_t seq, std::span<std::byte> out);
// For readers that follow a ring without claiming (a feed every reader sees
// whole): the oldest frame still in a slot whose sequence number is `from` or
// later, or timeout while there is none. A reader that fell behind gets the
// oldest one left, and the gap in sequence numbers says how many it missed.
[[nodiscard]] BusResult<FrameInfo> peek_from(const FrameRing& ring, std::uint64_t from, std::span<std::byte> out);
// The same, sleeping on the ring's doorbell up to `timeout` for the producer
// to publish one; closed once the creator has closed the ring. The sleep is
// announced in the header: the ring must be attached read-write.
[[nodiscard]] BusResult<FrameInfo> wait_from(const FrameRing& ring, std::uint64_t from, std::span<std::byte> out,
                                             std::chrono::nanoseconds timeout);

// CLOCK_MONOTONIC in nanoseconds: the clock all *_mono_ns fields use.
[[nodiscard]] std::uint64_t monotonic_ns();
[[nodiscard]] std::uint64_t unix_ns();

}  // namespace shmyolo::bus
