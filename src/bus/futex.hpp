// Futex doorbells over 32-bit words in shared memory. Not private futexes:
// waiters and wakers live in different processes.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <span>

namespace shmyolo::bus::detail {

// Sleeps while *word == expected, at most `timeout`. Spurious returns are fine:
// callers re-check their condition.
void futex_wait(const std::atomic<std::uint32_t>& word, std::uint32_t expected, std::chrono::nanoseconds timeout);
void futex_wake(const std::atomic<std::uint32_t>& word, int count);

struct FutexWaitEntry {
  const std::atomic<std::uint32_t>* word;
  std::uint32_t expected;
};
// Sleeps until any word differs from its expected value or the timeout passes
// (futex_waitv, Linux 5.16+). Returns false when the kernel lacks futex_waitv;
// the caller then polls.
bool futex_wait_any(std::span<const FutexWaitEntry> entries, std::chrono::nanoseconds timeout);

}  // namespace shmyolo::bus::detail
