// The segments this process created, for unlinking from a signal handler.
#pragma once

#include <shmyolo/bus/layout.hpp>

namespace shmyolo::bus::detail {

// Returns an entry id, or -1 when the table is full or the path too long
// (the ring then still works; only signal-time cleanup misses it).
int register_owned_segment(RingHeader* header, const char* path) noexcept;
// Returns false when a signal-time cleanup already closed and unlinked it.
bool unregister_owned_segment(int entry) noexcept;
// Marks the ring closed and wakes everyone waiting on it.
void mark_closed(RingHeader& header) noexcept;
// Removes a segment by its path, from a stop handler too (async-signal-safe):
// unlink on POSIX; nothing on Windows, where a mapping goes with its last view.
void remove_segment(const char* path) noexcept;

}  // namespace shmyolo::bus::detail
