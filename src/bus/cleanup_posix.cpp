// Stopping on POSIX systems: SIGINT, SIGTERM, SIGQUIT and SIGHUP close and
// unlink the process's own segments, then take their default effect.
#include <shmyolo/bus/cleanup.hpp>

#include <unistd.h>

#include <csignal>

#include "cleanup_registry.hpp"

namespace shmyolo::bus {

namespace detail {

void remove_segment(const char* path) noexcept {
  ::unlink(path);  // async-signal-safe
}

}  // namespace detail

namespace {
void on_stop_signal(int sig) {
  cleanup_owned_segments();
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}
}  // namespace

void install_signal_cleanup() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;
  for (const int sig : {SIGINT, SIGTERM, SIGQUIT, SIGHUP}) sigaction(sig, &sa, nullptr);
}

}  // namespace shmyolo::bus
