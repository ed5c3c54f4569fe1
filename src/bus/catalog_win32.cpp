// Listing and collecting rings on Windows (catalog_platform.hpp). Named
// mappings cannot be listed, so the rings of a session are written into a
// catalog: one more named mapping, "Local\shmyolo-catalog", of fixed-size
// entries. A ring's creator lists the ring and takes it out when it closes
// it; every process that maps a ring keeps the catalog open, so the catalog
// lives as long as any ring. An entry whose ring has gone (its creator was
// killed, and every view went with the processes) is freed by the next
// listing. Collecting a stale ring marks it closed, so the processes that
// still map it let go and the system frees it with its last view.
#include <windows.h>

#include <array>
#include <atomic>
#include <cstring>
#include <mutex>

#include <shmyolo/bus/ring.hpp>

#include "catalog_platform.hpp"
#include "cleanup_registry.hpp"
#include "text.hpp"
#include "win32_support.hpp"

namespace shmyolo::bus {

std::string segments_place(const std::filesystem::path& /*dir*/) {
  return "this Windows session";
}

namespace detail {
namespace {

// 1024 rings: 64 pipelines of 16 cameras each; 100 KiB in all.
constexpr std::size_t kEntries = 1024;

// An entry's word: the state in the low 2 bits, a generation above them
// that changes whenever the entry is taken or listed again, so a reader can
// tell that a name it copied did not change under it (a seqlock).
constexpr std::uint32_t kFree = 0;
constexpr std::uint32_t kFilling = 1;
constexpr std::uint32_t kListed = 2;
constexpr std::uint32_t kStateMask = 3;
constexpr std::uint32_t kGenerationStep = 4;

struct Entry {
  std::atomic<std::uint32_t> word;
  std::array<char, kNameBytes> name;
};

struct Catalog {
  std::array<Entry, kEntries> entries;
};

// The session's catalog, opened (or made, zero-filled by the system: every
// entry free) once and held for the process's life.
Catalog* catalog() {
  static std::once_flag once;
  static Catalog* mapped = nullptr;
  std::call_once(once, [] {
    OwnerOnly security;  // not const: CreateFileMappingA takes a mutable pointer
    HANDLE h = CreateFileMappingA(INVALID_HANDLE_VALUE, &security.attributes, PAGE_READWRITE | SEC_COMMIT, 0,
                                  sizeof(Catalog), "Local\\shmyolo-catalog");
    if (h == nullptr) return;  // rings still work; ls does not see them
    void* view = MapViewOfFile(h, FILE_MAP_ALL_ACCESS, 0, 0, sizeof(Catalog));
    if (view == nullptr) {
      CloseHandle(h);
      return;
    }
    mapped = static_cast<Catalog*>(view);  // the handle stays open: the name lives with it
  });
  return mapped;
}

// The name of a listed entry, copied whole, or empty when the entry was not
// listed or changed while it was read.
std::string read_name(const Entry& e, std::uint32_t& word) {
  // acquire: pairs with the release that listed the entry, so the name is written.
  word = e.word.load(std::memory_order_acquire);
  if ((word & kStateMask) != kListed) return {};
  std::array<char, kNameBytes> copy{};
  std::memcpy(copy.data(), e.name.data(), copy.size());
  // acquire fence: the copy above is ordered before the word's re-read.
  std::atomic_thread_fence(std::memory_order_acquire);
  if (e.word.load(std::memory_order_relaxed) != word) return {};
  copy.back() = '\0';
  std::string name(copy.data());
  return check_ring_name(name) ? name : std::string{};
}

bool ring_exists(const std::string& name) {
  HANDLE h = OpenFileMappingA(FILE_MAP_READ, FALSE, ("Local\\" + name).c_str());
  if (h != nullptr) {
    CloseHandle(h);
    return true;
  }
  return GetLastError() != ERROR_FILE_NOT_FOUND;  // another user's, say: it exists
}

}  // namespace

void catalog_hold() {
  static_cast<void>(catalog());
}

void catalog_add(std::string_view name) {
  Catalog* c = catalog();
  if (c == nullptr || name.size() >= kNameBytes) return;
  for (Entry& e : c->entries) {
    std::uint32_t word = 0;
    if (read_name(e, word) != name) continue;
    // Listed by a creator whose ring has gone (the name was free to create):
    // list it again under a new generation, so a listing that found the old
    // ring gone does not free it (acq_rel: as a take below). Freed meanwhile:
    // take a free entry below.
    if (e.word.compare_exchange_strong(word, word + kGenerationStep, std::memory_order_acq_rel)) return;
    break;
  }
  for (Entry& e : c->entries) {
    std::uint32_t word = e.word.load(std::memory_order_relaxed);
    if ((word & kStateMask) != kFree) continue;
    const std::uint32_t taken = ((word & ~kStateMask) + kGenerationStep) | kFilling;
    // acquire: the entry's last user is done with it before the name is written.
    if (!e.word.compare_exchange_strong(word, taken, std::memory_order_acquire)) continue;
    std::array<char, kNameBytes> copy{};
    std::memcpy(copy.data(), name.data(), name.size());
    std::memcpy(e.name.data(), copy.data(), copy.size());
    // release: a reader that sees the entry listed sees its whole name.
    e.word.store((taken & ~kStateMask) | kListed, std::memory_order_release);
    return;
  }
}

void catalog_remove(std::string_view name) {
  Catalog* c = catalog();
  if (c == nullptr) return;
  for (Entry& e : c->entries) {
    std::uint32_t word = 0;
    if (read_name(e, word) != name) continue;
    // release: the entry is free for another only after this reader is done with it.
    e.word.compare_exchange_strong(word, (word & ~kStateMask) | kFree, std::memory_order_release);
  }
}

BusResult<std::vector<std::string>> segment_names(const std::filesystem::path& /*dir*/) {
  std::vector<std::string> names;
  Catalog* c = catalog();
  if (c == nullptr) return names;
  for (Entry& e : c->entries) {
    std::uint32_t word = 0;
    std::string name = read_name(e, word);
    if (name.empty()) continue;
    if (!ring_exists(name)) {
      // Gone with its processes: free the entry, unless it was listed again meanwhile.
      e.word.compare_exchange_strong(word, (word & ~kStateMask) | kFree, std::memory_order_release);
      continue;
    }
    names.push_back(std::move(name));
  }
  return names;
}

void read_segment_facts(const std::string& name, const std::filesystem::path& /*dir*/, SegmentInfo& info) {
  info.path = "Local\\" + name;
  info.mode = 0600;  // what its security descriptor amounts to: its creator's user alone
}

std::string remove_stale_segment(const SegmentInfo& info, const std::filesystem::path& dir) {
  if (!info.valid) {  // nothing to close: it only leaves the catalog
    catalog_remove(info.name);
    return {};
  }
  auto ring = FrameRing::attach(info.name, dir);
  if (!ring) {
    if (ring.error().code == BusErrc::not_found) {
      catalog_remove(info.name);
      return {};
    }
    return strf("cannot close %s: %s", info.name.c_str(), ring.error().message.c_str());
  }
  mark_closed(ring->header());
  catalog_remove(info.name);
  return {};
}

}  // namespace detail
}  // namespace shmyolo::bus
