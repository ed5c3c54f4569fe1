// Futex doorbells over 32-bit words in shared memory. Not private futexes:
// waiters and wakers live in different processes.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>

namespace shmyolo::bus::detail {

// Sleeps while *word == expected, at most `timeout`. Spurious returns are fine:
// callers re-check their condition.
void futex_wait(const std::atomic<std::uint32_t>& word, std::uint32_t expected, std::chrono::nanoseconds timeout);
// Wakes up to `count` sleepers: the waiters the ring's header has announced
// (Windows releases exactly that many permits of the word's semaphore).
void futex_wake(const std::atomic<std::uint32_t>& word, int count);

// Windows has no futex between processes: a word's doorbell there is a named
// semaphore, named after the segment the word lies in and its offset, so this
// process says which mappings are segments and what they are called. Linux
// needs none of it (a futex on a shared mapping works across processes).
void register_mapping(const void* base, std::size_t bytes, const std::string& name);
void unregister_mapping(const void* base);

struct FutexWaitEntry {
  const std::atomic<std::uint32_t>* word;
  std::uint32_t expected;
};
// Sleeps until any word differs from its expected value or the timeout passes
// (futex_waitv, Linux 5.16+). Returns false when the kernel lacks futex_waitv;
// the caller then polls.
bool futex_wait_any(std::span<const FutexWaitEntry> entries, std::chrono::nanoseconds timeout);

}  // namespace shmyolo::bus::detail
