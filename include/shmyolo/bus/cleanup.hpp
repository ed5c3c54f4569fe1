// Unlinking a process's own segments when it is told to stop.
//
// FrameRing::create registers every segment it creates; its destructor
// unregisters it. install_signal_cleanup() makes SIGINT, SIGTERM, SIGQUIT and
// SIGHUP close and unlink whatever is still registered before the signal
// takes its default effect, so an interrupted producer leaves nothing in
// /dev/shm. Processes
// with their own signal handling call cleanup_owned_segments() instead.
#pragma once

namespace shmyolo::bus {

void install_signal_cleanup();
// Async-signal-safe: marks each owned ring closed, wakes its waiters and
// unlinks its file.
void cleanup_owned_segments() noexcept;

}  // namespace shmyolo::bus
