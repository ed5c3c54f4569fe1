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

void install_stop_handlers() {
  g_stop = 0;  // a child forked while its parent was stopping starts afresh
  struct sigaction sa {};
  sa.sa_handler = on_stop;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
}

bus::BusResult<bus::Producer> attach_producer(bus::FrameRing& ring) {
  for (int tries = 0;; ++tries) {
    auto producer = bus::Producer::attach(ring);
    if (producer || producer.error().code != bus::BusErrc::producer_busy || tries >= 50) return producer;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace shmyolo::pipeline
