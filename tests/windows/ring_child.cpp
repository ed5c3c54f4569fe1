// The other process of tests/windows/ring_process_test.cpp: attaches a ring
// by name and claims one frame. "claim": checks it (every byte 7), releases
// it and exits 0. "hold": keeps the claim and sleeps until it is killed.
#include <windows.h>

#include <chrono>
#include <cstring>
#include <string>

#include <shmyolo/bus/ring.hpp>

int main(int argc, char** argv) {
  using namespace shmyolo::bus;
  if (argc != 3) return 2;
  auto ring = FrameRing::attach(argv[1]);
  if (!ring) return 3;
  Consumer consumer(*ring);
  auto claim = consumer.claim(std::chrono::seconds(10));
  if (!claim) return 4;
  if (std::strcmp(argv[2], "hold") == 0) {
    Sleep(INFINITE);  // killed by the test with its claim held
  }
  for (const std::byte b : claim->pixels()) {
    if (b != std::byte{7}) return 5;
  }
  return claim->release() ? 0 : 6;
}
