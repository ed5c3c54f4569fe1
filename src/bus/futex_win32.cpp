// Doorbells on Windows (futex.hpp). A word inside a registered segment has a
// named semaphore, "Local\shmyolo-bell.<segment>.<offset>", shared by every
// process that maps the segment: a sleeper waits on it, a waker releases as
// many permits as there are announced sleepers. A permit left over (a sleeper
// that timed out first) costs one early return later, which callers absorb:
// they re-check their condition. A word outside any segment (threads of one
// process) sleeps on WaitOnAddress.
#include "futex.hpp"

#include <windows.h>

#include <algorithm>
#include <climits>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace shmyolo::bus::detail {
namespace {

struct Mapping {
  std::size_t bytes = 0;
  std::string name;
};

struct Registry {
  std::mutex mutex;
  std::map<std::uintptr_t, Mapping> mappings;  // by base address
  std::map<std::string, HANDLE> semaphores;    // by semaphore name, open for the process's life
};

Registry& registry() {
  static Registry r;  // never destroyed: waits may run during static destruction
  return r;
}

std::uintptr_t address_of(const std::atomic<std::uint32_t>& word) {
  return reinterpret_cast<std::uintptr_t>(&word);  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
}

// The word's semaphore, or null when the word lies in no registered segment.
HANDLE semaphore_of(const std::atomic<std::uint32_t>& word) {
  const std::uintptr_t at = address_of(word);
  Registry& r = registry();
  const std::scoped_lock lock(r.mutex);
  auto it = r.mappings.upper_bound(at);
  if (it == r.mappings.begin()) return nullptr;
  --it;
  if (at >= it->first + it->second.bytes) return nullptr;
  const std::string name = "Local\\shmyolo-bell." + it->second.name + "." + std::to_string(at - it->first);
  auto& handle = r.semaphores[name];
  if (handle == nullptr) handle = CreateSemaphoreA(nullptr, 0, LONG_MAX, name.c_str());  // or opens it
  return handle;
}

DWORD milliseconds(std::chrono::nanoseconds d) {
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(d).count();
  return static_cast<DWORD>(std::clamp<long long>(ms, 0, INFINITE - 1));
}

}  // namespace

void register_mapping(const void* base, std::size_t bytes, const std::string& name) {
  Registry& r = registry();
  const std::scoped_lock lock(r.mutex);
  r.mappings[reinterpret_cast<std::uintptr_t>(base)] = Mapping{bytes, name};  // NOLINT
}

void unregister_mapping(const void* base) {
  Registry& r = registry();
  const std::scoped_lock lock(r.mutex);
  r.mappings.erase(reinterpret_cast<std::uintptr_t>(base));  // NOLINT
}

void futex_wait(const std::atomic<std::uint32_t>& word, std::uint32_t expected, std::chrono::nanoseconds timeout) {
  if (timeout <= std::chrono::nanoseconds::zero() || word.load(std::memory_order_seq_cst) != expected) return;
  if (HANDLE sem = semaphore_of(word)) {
    WaitForSingleObject(sem, milliseconds(timeout));
    return;
  }
  // WaitOnAddress compares and sleeps atomically, like a futex, within one process.
  auto* address = const_cast<std::atomic<std::uint32_t>*>(&word);  // NOLINT: only compared, never written
  WaitOnAddress(address, &expected, sizeof expected, milliseconds(timeout));
}

void futex_wake(const std::atomic<std::uint32_t>& word, int count) {
  if (count <= 0) return;
  if (HANDLE sem = semaphore_of(word)) {
    ReleaseSemaphore(sem, count, nullptr);
    return;
  }
  auto* address = const_cast<std::atomic<std::uint32_t>*>(&word);  // NOLINT: the address names the sleepers
  if (count == 1) {
    WakeByAddressSingle(address);
  } else {
    WakeByAddressAll(address);
  }
}

bool futex_wait_any(std::span<const FutexWaitEntry> entries, std::chrono::nanoseconds timeout) {
  if (entries.empty() || entries.size() > MAXIMUM_WAIT_OBJECTS) return false;
  std::vector<HANDLE> handles;
  handles.reserve(entries.size());
  for (const auto& e : entries) {
    if (e.word->load(std::memory_order_seq_cst) != e.expected) return true;  // rung already
    HANDLE sem = semaphore_of(*e.word);
    if (sem == nullptr) return false;  // not a segment's word: the caller polls
    handles.push_back(sem);
  }
  WaitForMultipleObjects(static_cast<DWORD>(handles.size()), handles.data(), FALSE, milliseconds(timeout));
  return true;
}

}  // namespace shmyolo::bus::detail
