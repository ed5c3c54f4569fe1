#include "futex.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cerrno>
#include <climits>
#include <ctime>
#include <vector>

namespace shmyolo::bus::detail {
namespace {

timespec to_timespec(std::chrono::nanoseconds d) {
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(d);
  return timespec{static_cast<time_t>(secs.count()), static_cast<long>((d - secs).count())};
}

// The futex syscall wants a plain 32-bit word; std::atomic<uint32_t> is
// exactly that (static_asserted in layout.hpp as lock-free).
std::uint32_t* raw(const std::atomic<std::uint32_t>& word) {
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast,cppcoreguidelines-pro-type-reinterpret-cast)
  return reinterpret_cast<std::uint32_t*>(const_cast<std::atomic<std::uint32_t>*>(&word));
}

}  // namespace

void futex_wait(const std::atomic<std::uint32_t>& word, std::uint32_t expected, std::chrono::nanoseconds timeout) {
  if (timeout <= std::chrono::nanoseconds::zero()) return;
  const timespec ts = to_timespec(timeout);
  syscall(SYS_futex, raw(word), FUTEX_WAIT, expected, &ts, nullptr, 0);
}

void futex_wake(const std::atomic<std::uint32_t>& word, int count) {
  syscall(SYS_futex, raw(word), FUTEX_WAKE, count, nullptr, nullptr, 0);
}

void register_mapping(const void* /*base*/, std::size_t /*bytes*/, const std::string& /*name*/) {}
void unregister_mapping(const void* /*base*/) {}

bool futex_wait_any(std::span<const FutexWaitEntry> entries, std::chrono::nanoseconds timeout) {
#ifdef SYS_futex_waitv
  if (entries.empty() || entries.size() > FUTEX_WAITV_MAX) return false;
  std::vector<futex_waitv> waiters(entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    waiters[i].val = entries[i].expected;
    waiters[i].uaddr = reinterpret_cast<std::uintptr_t>(raw(*entries[i].word));  // NOLINT
    waiters[i].flags = FUTEX_32;
    waiters[i].__reserved = 0;
  }
  // futex_waitv takes an absolute deadline on the given clock.
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const auto deadline = std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec) + timeout;
  const timespec ts = to_timespec(deadline);
  const long rc = syscall(SYS_futex_waitv, waiters.data(), waiters.size(), 0, &ts, CLOCK_MONOTONIC);
  return !(rc < 0 && errno == ENOSYS);
#else
  (void)entries;
  (void)timeout;
  return false;
#endif
}

}  // namespace shmyolo::bus::detail
