// The segments a process created, closed and removed when it is told to stop
// (cleanup.hpp), on every system: how a stop arrives and how a segment is
// removed are the platform's (cleanup_posix.cpp, cleanup_win32.cpp).
#include <shmyolo/bus/cleanup.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <climits>
#include <cstdint>
#include <cstring>

#include "cleanup_registry.hpp"
#include "futex.hpp"
#include "process.hpp"

namespace shmyolo::bus {
namespace detail {
namespace {

constexpr int kMaxOwned = 256;
constexpr std::size_t kMaxPath = 512;

struct OwnedSegment {
  // 0 free, 1 being filled, 2 registered. A slot goes 0->1 by CAS (acquire),
  // 1->2 with release so a signal handler that sees 2 also sees path/header.
  std::atomic<int> state{0};
  std::int32_t creator = 0;  // a forked child inherits the table but owns none of it
  RingHeader* header = nullptr;
  std::array<char, kMaxPath> path{};
};

std::array<OwnedSegment, kMaxOwned>& table() {
  static std::array<OwnedSegment, kMaxOwned> owned;
  return owned;
}

}  // namespace

int register_owned_segment(RingHeader* header, const char* path) noexcept {
  if (std::strlen(path) >= kMaxPath) return -1;
  auto& owned = table();
  for (int i = 0; i < kMaxOwned; ++i) {
    int expected = 0;
    // acquire: pairs with the release in unregister, so the old contents are done with.
    if (owned[i].state.compare_exchange_strong(expected, 1, std::memory_order_acquire)) {
      owned[i].header = header;
      owned[i].creator = self_pid();
      std::strncpy(owned[i].path.data(), path, kMaxPath - 1);
      // release: publishes header and path to a signal handler reading state == 2.
      owned[i].state.store(2, std::memory_order_release);
      return i;
    }
  }
  return -1;
}

bool unregister_owned_segment(int entry) noexcept {
  if (entry < 0 || entry >= kMaxOwned) return true;
  auto& slot = table()[entry];
  int expected = 2;
  // acq_rel: the slot may be reused only after this thread is done with it.
  const bool still_registered = slot.state.compare_exchange_strong(expected, 0, std::memory_order_acq_rel);
  if (!still_registered) slot.state.store(0, std::memory_order_release);
  return still_registered;
}

void mark_closed(RingHeader& header) noexcept {
  // release: a waiter that sees `closed` sees everything published before it.
  header.state.store(RingState::closed, std::memory_order_release);
  header.frame_bell.fetch_add(1, std::memory_order_seq_cst);
  header.space_bell.fetch_add(1, std::memory_order_seq_cst);
  // seq_cst: as ring_bell (roles.cpp), the announced waiters are every sleeper.
  const auto announced = [](const std::atomic<std::uint32_t>& waiters) {
    return static_cast<int>(std::min<std::uint32_t>(waiters.load(std::memory_order_seq_cst), INT_MAX));
  };
  futex_wake(header.frame_bell, announced(header.frame_waiters));
  futex_wake(header.space_bell, announced(header.space_waiters));
}

}  // namespace detail

void cleanup_owned_segments() noexcept {
  auto& owned = detail::table();
  const std::int32_t self = detail::self_pid();
  for (auto& entry : owned) {
    if (entry.creator != self) continue;
    int expected = 2;
    // acquire: see the header and path the registering thread wrote.
    if (!entry.state.compare_exchange_strong(expected, 1, std::memory_order_acquire)) continue;
    detail::mark_closed(*entry.header);
    detail::remove_segment(entry.path.data());
    // Leave it at 1: the ring's destructor must not unlink a file of the same
    // name that someone else may create after this point.
  }
}

}  // namespace shmyolo::bus
