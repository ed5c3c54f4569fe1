#include <chrono>
#include <csignal>
#include <thread>

#include "context.hpp"

namespace shmyolo::pipeline {
namespace {
volatile std::sig_atomic_t g_stop = 0;
void on_stop(int) {
  g_stop = 1;
}
}  // namespace

bool stop_requested() {
  return g_stop != 0;
}

void install_stop_handlers(StopRole role) {
  g_stop = 0;  // a child forked while its parent was stopping starts afresh
  struct sigaction stop {};
  stop.sa_handler = on_stop;
  sigemptyset(&stop.sa_mask);
  sigaction(SIGTERM, &stop, nullptr);
  // What a terminal sends to the whole foreground group: Ctrl-C, Ctrl-\ and
  // the hangup of a closed session. The supervisor stops; its children ignore
  // them and are stopped in order by the supervisor's SIGTERM.
  struct sigaction group {};
  group.sa_handler = role == StopRole::supervisor ? on_stop : SIG_IGN;
  sigemptyset(&group.sa_mask);
  for (const int sig : {SIGINT, SIGQUIT, SIGHUP}) sigaction(sig, &group, nullptr);
}

bus::BusResult<bus::Producer> attach_producer(bus::FrameRing& ring) {
  for (int tries = 0;; ++tries) {
    auto producer = bus::Producer::attach(ring);
    if (producer || producer.error().code != bus::BusErrc::producer_busy || tries >= 50) return producer;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace shmyolo::pipeline
