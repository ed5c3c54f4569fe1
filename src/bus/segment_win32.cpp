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
// After windows.h, whose types it uses.
#include <sddl.h>

#include <array>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "cleanup_registry.hpp"
#include "futex.hpp"
#include "process.hpp"
#include "ring_internal.hpp"
#include "text.hpp"

namespace shmyolo::bus {

using detail::format_bytes;
using detail::strf;

namespace {

std::string object_name(std::string_view ring) {
  return "Local\\" + std::string(ring);
}

std::string system_message(DWORD code) {
  std::array<char, 256> text{};
  const DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr, code, 0,
                                 text.data(), static_cast<DWORD>(text.size()), nullptr);
  std::string s(text.data(), n);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == '.')) s.pop_back();
  return s.empty() ? strf("error %lu", static_cast<unsigned long>(code)) : s;
}

// A descriptor that lets only this process's user open the mapping.
struct OwnerOnly {
  SECURITY_ATTRIBUTES attributes{sizeof(SECURITY_ATTRIBUTES), nullptr, FALSE};
  PSECURITY_DESCRIPTOR descriptor = nullptr;
  OwnerOnly() {
    HANDLE token = nullptr;
    if (OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token) == 0) return;
    std::array<std::byte, 256> buffer{};
    DWORD size = 0;
    LPSTR sid = nullptr;
    if (GetTokenInformation(token, TokenUser, buffer.data(), static_cast<DWORD>(buffer.size()), &size) != 0 &&
        ConvertSidToStringSidA(reinterpret_cast<TOKEN_USER*>(buffer.data())->User.Sid, &sid) != 0) {  // NOLINT
      const std::string sddl = std::string("D:P(A;;GA;;;") + sid + ")";
      ConvertStringSecurityDescriptorToSecurityDescriptorA(sddl.c_str(), SDDL_REVISION_1, &descriptor, nullptr);
      LocalFree(sid);
    }
    CloseHandle(token);
    attributes.lpSecurityDescriptor = descriptor;
  }
  OwnerOnly(const OwnerOnly&) = delete;
  OwnerOnly& operator=(const OwnerOnly&) = delete;
  ~OwnerOnly() {
    if (descriptor != nullptr) LocalFree(descriptor);
  }
};

BusError creation_error(DWORD code, const RingOptions& o, std::uint64_t bytes) {
  if (code == ERROR_COMMITMENT_LIMIT || code == ERROR_NOT_ENOUGH_MEMORY || code == ERROR_NO_SYSTEM_RESOURCES) {
    return BusError{BusErrc::no_space,
                    strf("cannot create ring %s: it needs %s (%llu bytes) of committed memory and Windows has not "
                         "that much left (%s): close programs, enlarge the paging file, or use fewer or smaller slots",
                         o.name.c_str(), format_bytes(bytes).c_str(), static_cast<unsigned long long>(bytes),
                         system_message(code).c_str())};
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
  OwnerOnly security;
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
  ring.header_ = new (mem) RingHeader{};
  detail::fill_header(*ring.header_, o, g);
  ring.geometry_ = g;
  ring.header_->heartbeat_mono_ns.store(monotonic_ns(), std::memory_order_relaxed);
  for (std::uint32_t i = 0; i < g.slot_count; ++i) new (&ring.descriptor(i)) SlotDescriptor{};
  ring.header_->state.store(RingState::active, std::memory_order_relaxed);
  // release: an attacher that reads the magic (acquire) sees the whole header.
  ring.header_->magic.store(kRingMagic, std::memory_order_release);
  ring.policy_ = ring.header_->policy;
  ring.creator_ = ring.header_->creator;
  ring.owner_ = true;
  detail::register_mapping(mem, g.total_bytes, o.name);
  ring.cleanup_entry_ = detail::register_owned_segment(ring.header_, name.c_str());
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
  // Validate a private copy: a scribbler cannot change a field between check and use.
  alignas(RingHeader) std::array<std::byte, sizeof(RingHeader)> copy{};
  if (size < sizeof(RingHeader)) {
    return bus_error(BusErrc::invalid_header, strf("ring %s is shorter than its header", object.c_str()));
  }
  std::memcpy(copy.data(), mem, sizeof(RingHeader));
  const auto* snapshot = reinterpret_cast<const RingHeader*>(copy.data());  // NOLINT
  if (auto ok = validate_header(*snapshot, size, object); !ok) return std::unexpected(ok.error());
  ring.geometry_ = snapshot->geometry;
  ring.policy_ = snapshot->policy;
  ring.creator_ = snapshot->creator;
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
  if (still_ours) detail::mark_closed(*header_);
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
