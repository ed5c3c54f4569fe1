// The other process of Doorbell.AnotherProcessIsWokenByARing on Windows: maps
// the test's segment, announces its sleep in the segment's first word, sleeps
// on the bell (word 16) and exits 0 only if a ring woke it well before its
// timeout.
#include <windows.h>

#include <atomic>
#include <chrono>
#include <string>

#include "../../src/bus/futex.hpp"

int main(int argc, char** argv) {
  using namespace std::chrono_literals;
  if (argc != 2) return 2;
  const std::string segment = argv[1];
  HANDLE mapping = OpenFileMappingA(FILE_MAP_ALL_ACCESS, FALSE, ("Local\\" + segment).c_str());
  if (mapping == nullptr) return 3;
  void* view = MapViewOfFile(mapping, FILE_MAP_ALL_ACCESS, 0, 0, 4096);
  if (view == nullptr) return 4;
  shmyolo::bus::detail::register_mapping(view, 4096, segment);
  auto* waiters = static_cast<std::atomic<std::uint32_t>*>(view);
  auto* bell = waiters + 16;
  waiters->fetch_add(1);
  const auto t0 = std::chrono::steady_clock::now();
  while (bell->load() == 0 && std::chrono::steady_clock::now() - t0 < 10s)
    shmyolo::bus::detail::futex_wait(*bell, 0, 10s);
  const bool woken = bell->load() == 1 && std::chrono::steady_clock::now() - t0 < 5s;
  UnmapViewOfFile(view);
  CloseHandle(mapping);
  return woken ? 0 : 1;
}
