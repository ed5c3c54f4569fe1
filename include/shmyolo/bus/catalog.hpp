// The rings present in a directory, as `shmyolo ls`, `inspect` and `gc` see
// them. Reading a segment here never writes to it: the file is mapped
// read-only and a segment that fails validation is reported, not trusted.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <shmyolo/bus/error.hpp>
#include <shmyolo/bus/layout.hpp>

namespace shmyolo::bus {

struct CounterSnapshot {
  std::uint64_t published = 0;
  std::uint64_t dropped = 0;
  std::uint64_t claimed = 0;
  std::uint64_t released = 0;
  std::uint64_t reclaimed = 0;
  std::uint64_t rejected = 0;
  std::uint64_t space_waits = 0;
};

struct SlotSnapshot {
  SlotState state = SlotState::free;
  std::int32_t owner_pid = 0;
  std::uint64_t frame_seq = 0;
  std::int64_t lease_left_ms = 0;  // claimed slots only
};

struct SegmentInfo {
  std::string name;
  std::filesystem::path path;
  std::uint64_t file_bytes = 0;
  std::uint32_t mode = 0;
  std::uint32_t file_uid = 0;
  bool valid = false;
  // It could not be opened at all (another user's ring, mode 0600): nothing
  // is known about it, so gc never removes it, even with --invalid.
  bool unreadable = false;
  std::string problem;  // why the segment is not a valid ring
  RingGeometry geometry{};
  RingPolicy policy{};
  RingCreator creator{};
  bool creator_alive = false;
  std::int32_t producer_pid = 0;
  bool producer_alive = false;
  std::int64_t heartbeat_age_ms = -1;
  RingState state = RingState::initializing;
  CounterSnapshot counters;
  std::vector<SlotSnapshot> slots;
  double age_seconds = 0;  // since the file was last modified
};

// A segment is stale when it can never be used again: its creator is dead (or
// its pid was reused), it was closed, or it was left half-initialised.
[[nodiscard]] bool is_stale(const SegmentInfo& info);

// Where the rings live, for messages: the folder `dir` on POSIX systems,
// "this Windows session" on Windows (whose rings are named mappings).
[[nodiscard]] std::string segments_place(const std::filesystem::path& dir);

// The rings in `dir` (files named "shmyolo.*"; on Windows the rings listed in
// the session's catalog, `dir` unused), each read and validated, by name.
[[nodiscard]] BusResult<std::vector<SegmentInfo>> list_segments(const std::filesystem::path& dir);
[[nodiscard]] BusResult<SegmentInfo> inspect_segment(const std::string& name, const std::filesystem::path& dir);

struct GcResult {
  std::vector<std::string> removed;
  std::vector<std::string> kept;
  std::vector<std::string> invalid_kept;  // "NAME: why it is not a ring", left without remove_invalid
  std::vector<std::string> errors;
};

// Removes stale segments (on Windows: marks them closed, so the processes
// that still map them let go, and takes them out of the catalog; the system
// frees a mapping with its last view). Invalid segments are only removed with
// `remove_invalid`, since they may belong to another program; segments this
// process cannot read are never removed (it cannot tell whether they live).
[[nodiscard]] GcResult collect_garbage(const std::filesystem::path& dir, bool dry_run, bool remove_invalid);

}  // namespace shmyolo::bus
