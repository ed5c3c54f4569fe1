// FrameRing on Windows: a ring is a named, pagefile-backed file mapping,
// "Local\<name>" (the folder of RingOptions::dir has no meaning here: the
// session's namespace is the folder). Its pages are committed at creation
// (SEC_COMMIT), so a short commit limit fails there, with the bytes needed,
// not at first touch: the equivalent of reserving a tmpfs file in full. A
// security descriptor admits only the creating user, the equivalent of
// 0600. There is no unlinking: a mapping's name lives as long as a handle to
// it (every FrameRing keeps one), and the mapping as long as a view.
// src/bus/segment_posix.cpp is the same for POSIX systems.
#include <shmyolo/bus/ring.hpp>

#include <windows.h>

#include <string>

#include "catalog_platform.hpp"
#include "cleanup_registry.hpp"
#include "futex.hpp"
#include "process.hpp"
#include "ring_internal.hpp"
#include "text.hpp"
#include "win32_support.hpp"

namespace shmyolo::bus {

using detail::format_bytes;
using detail::OwnerOnly;
using detail::strf;
using detail::system_message;

namespace {

std::string object_name(std::string_view ring) {
  return "Local\\" + std::string(ring);
}

// `left`: what Windows said, or how much commit it has left.
BusError no_commit_error(const RingOptions& o, std::uint64_t bytes, const std::string& left) {
  return BusError{
      BusErrc::no_space,
      strf("cannot create ring %s: it needs %s (%llu bytes) of committed memory and Windows has not "
           "that much left (%s): close programs, enlarge the paging file, or use fewer or smaller slots",
           o.name.c_str(), format_bytes(bytes).c_str(), static_cast<unsigned long long>(bytes), left.c_str())};
}

BusError creation_error(DWORD code, const RingOptions& o, std::uint64_t bytes) {
  if (code == ERROR_COMMITMENT_LIMIT || code == ERROR_NOT_ENOUGH_MEMORY || code == ERROR_NO_SYSTEM_RESOURCES) {
    return no_commit_error(o, bytes, system_message(code));
  }
  if (code == ERROR_ACCESS_DENIED) {
    return BusError{BusErrc::permission_denied,
                    strf("cannot create ring %s: another user's ring has that name; use another name", o.name.c_str())};
  }
  return BusError{BusErrc::system_error,
                  strf("cannot create ring %s: %s", o.name.c_str(), system_message(code).c_str())};
}

// The size of the view at `base`: a mapping's size is not kept anywhere else.
std::uint64_t view_bytes(const void* base) {
  MEMORY_BASIC_INFORMATION info{};
  if (VirtualQuery(base, &info, sizeof info) == 0) return 0;
  return info.RegionSize;
}

}  // namespace

BusResult<FrameRing> FrameRing::create(const RingOptions& o) {
  auto planned = plan_geometry(o);
  if (!planned) return std::unexpected(planned.error());
  const RingGeometry g = *planned;
  // Said before asking: a system that overcommits (Wine on Linux) would
  // otherwise grant it and fail at first touch.
  if (const auto space = shm_space(o.dir); space && g.total_bytes > space->free_bytes) {
    return std::unexpected(no_commit_error(o, g.total_bytes, format_bytes(space->free_bytes) + " free"));
  }
  OwnerOnly security;  // not const: CreateFileMappingA takes a mutable pointer
  const std::string name = object_name(o.name);
  HANDLE mapping = CreateFileMappingA(INVALID_HANDLE_VALUE, &security.attributes, PAGE_READWRITE | SEC_COMMIT,
                                      static_cast<DWORD>(g.total_bytes >> 32),
                                      static_cast<DWORD>(g.total_bytes & 0xFFFFFFFFU), name.c_str());
  const DWORD created = GetLastError();
  if (mapping == nullptr) return std::unexpected(creation_error(created, o, g.total_bytes));
  if (created == ERROR_ALREADY_EXISTS) {
    // Some process still maps it (else it would be gone): it cannot be replaced.
    CloseHandle(mapping);
    return bus_error(BusErrc::already_exists,
                     strf("ring %s already exists and is mapped by a running process; stop that pipeline, or use "
                          "another name",
                          o.name.c_str()));
  }
  void* mem = MapViewOfFile(mapping, FILE_MAP_ALL_ACCESS, 0, 0, static_cast<SIZE_T>(g.total_bytes));
  const DWORD mapped = GetLastError();
  if (mem == nullptr) {
    CloseHandle(mapping);
    return std::unexpected(creation_error(mapped, o, g.total_bytes));
  }

  FrameRing ring;
  ring.name_ = o.name;
  ring.path_ = name;
  ring.base_ = static_cast<std::byte*>(mem);
  ring.mapped_bytes_ = g.total_bytes;
  ring.segment_handle_ = mapping;  // the name lives as long as a handle
  ring.header_ = detail::initialise_segment(ring.base_, o, g);
  ring.geometry_ = g;
  ring.policy_ = ring.header_->policy;
  ring.creator_ = ring.header_->creator;
  ring.owner_ = true;
  detail::register_mapping(mem, g.total_bytes, o.name);
  ring.cleanup_entry_ = detail::register_owned_segment(ring.header_, name.c_str());
  detail::catalog_add(o.name);  // for shmyolo ls and gc, which cannot list named mappings
  return ring;
}

BusResult<FrameRing> FrameRing::attach(std::string_view name, const std::filesystem::path& /*dir*/, Access access) {
  if (auto ok = check_ring_name(name); !ok) return std::unexpected(ok.error());
  const std::string object = object_name(name);
  const bool ro = access == Access::read_only;
  const DWORD rights = ro ? FILE_MAP_READ : FILE_MAP_ALL_ACCESS;
  HANDLE mapping = OpenFileMappingA(rights, FALSE, object.c_str());
  if (mapping == nullptr) {
    const DWORD code = GetLastError();
    if (code == ERROR_FILE_NOT_FOUND) {
      return bus_error(BusErrc::not_found, strf("no ring named %.*s: is its pipeline running, in this Windows session?",
                                                static_cast<int>(name.size()), name.data()));
    }
    if (code == ERROR_ACCESS_DENIED) {
      return bus_error(BusErrc::permission_denied,
                       strf("ring %.*s belongs to another user: run as the user that created it",
                            static_cast<int>(name.size()), name.data()));
    }
    return bus_error(BusErrc::system_error, strf("cannot open ring %.*s: %s", static_cast<int>(name.size()),
                                                 name.data(), system_message(code).c_str()));
  }
  void* mem = MapViewOfFile(mapping, rights, 0, 0, 0);
  const DWORD code = GetLastError();
  if (mem == nullptr) {
    CloseHandle(mapping);
    return bus_error(BusErrc::system_error, strf("cannot map ring %.*s: %s", static_cast<int>(name.size()), name.data(),
                                                 system_message(code).c_str()));
  }
  const std::uint64_t size = view_bytes(mem);
  FrameRing ring;
  ring.name_ = std::string(name);
  ring.path_ = object;
  ring.base_ = static_cast<std::byte*>(mem);
  ring.mapped_bytes_ = size;
  ring.segment_handle_ = mapping;
  ring.header_ = static_cast<RingHeader*>(mem);
  ring.read_only_ = ro;
  detail::register_mapping(mem, size, ring.name_);
  detail::catalog_hold();
  if (size < sizeof(RingHeader)) {
    return bus_error(BusErrc::invalid_header, strf("ring %s is shorter than its header", object.c_str()));
  }
  const auto facts = detail::read_header_facts(ring.base_, size, object);
  if (!facts) return std::unexpected(facts.error());
  ring.geometry_ = facts->geometry;
  ring.policy_ = facts->policy;
  ring.creator_ = facts->creator;
  return ring;
}

void FrameRing::release_mapping() noexcept {
  if (base_ == nullptr) return;
  if (owner_) close();
  detail::unregister_mapping(base_);
  UnmapViewOfFile(base_);
  if (segment_handle_ != nullptr) CloseHandle(segment_handle_);
  segment_handle_ = nullptr;
  base_ = nullptr;
  header_ = nullptr;
}

void FrameRing::close() {
  if (!owner_ || header_ == nullptr) return;
  owner_ = false;
  const bool still_ours = detail::unregister_owned_segment(cleanup_entry_);
  cleanup_entry_ = -1;
  if (still_ours) {
    detail::mark_closed(*header_);
    detail::catalog_remove(name_);
  }
}

// The name still maps the ring this process holds: a mapping cannot be
// replaced while any view of it lives, so only a creator that closed it and
// a successor that made a new one under its name (after every view went)
// would differ, by the creator's generation.
bool FrameRing::superseded() const {
  HANDLE mapping = OpenFileMappingA(FILE_MAP_READ, FALSE, path_.string().c_str());
  if (mapping == nullptr) return true;
  const void* view = MapViewOfFile(mapping, FILE_MAP_READ, 0, 0, sizeof(RingHeader));
  CloseHandle(mapping);
  if (view == nullptr) return true;
  const auto* header = static_cast<const RingHeader*>(view);
  const bool same = header->creator.generation == creator_.generation;
  UnmapViewOfFile(view);
  return !same;
}

}  // namespace shmyolo::bus
