// The doorbell under the ring protocol (src/bus/futex.hpp): a sleeper on a
// word is woken by a ring of it, between threads and between processes, long
// before its timeout. The same test on Linux (futexes) and, cross-built,
// under Wine (named semaphores; tests/windows/doorbell_child.cpp is the
// other process there).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#if defined(_WIN32)
#include <windows.h>
#else
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include "../../src/bus/futex.hpp"

namespace shmyolo::bus::detail {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// How long a sleeper waits at most: far longer than a ring takes to wake it.
constexpr auto kPatience = 10s;
constexpr auto kWoken = 5s;

TEST(Doorbell, AThreadIsWokenByARing) {
  std::atomic<std::uint32_t> bell{0};
  Clock::duration slept{};
  std::thread sleeper([&] {
    const auto t0 = Clock::now();
    while (bell.load() == 0 && Clock::now() - t0 < kPatience) futex_wait(bell, 0, kPatience);
    slept = Clock::now() - t0;
  });
  std::this_thread::sleep_for(50ms);
  bell.fetch_add(1);
  futex_wake(bell, 1);
  sleeper.join();
  EXPECT_LT(slept, kWoken);
}

TEST(Doorbell, AWaitReturnsAtOnceWhenTheBellHasAlreadyRung) {
  std::atomic<std::uint32_t> bell{3};
  const auto t0 = Clock::now();
  futex_wait(bell, 2, kPatience);
  EXPECT_LT(Clock::now() - t0, kWoken);
}

#if defined(_WIN32)

// The other process: tests/windows/doorbell_child.cpp, beside this program.
std::string child_program() {
  std::string path(MAX_PATH, '\0');
  path.resize(GetModuleFileNameA(nullptr, path.data(), MAX_PATH));
  return path.substr(0, path.find_last_of("\\/") + 1) + "bus_doorbell_child.exe";
}

TEST(Doorbell, AnotherProcessIsWokenByARing) {
  const std::string segment = "shmyolo.doorbell-test." + std::to_string(GetCurrentProcessId());
  HANDLE mapping = CreateFileMappingA(INVALID_HANDLE_VALUE, nullptr, PAGE_READWRITE | SEC_COMMIT, 0, 4096,
                                      ("Local\\" + segment).c_str());
  ASSERT_NE(mapping, nullptr);
  void* view = MapViewOfFile(mapping, FILE_MAP_ALL_ACCESS, 0, 0, 4096);
  ASSERT_NE(view, nullptr);
  register_mapping(view, 4096, segment);
  auto* bell = static_cast<std::atomic<std::uint32_t>*>(view) + 16;  // any word of the segment
  auto* waiters = static_cast<std::atomic<std::uint32_t>*>(view);
  std::string command = child_program() + " " + segment;
  STARTUPINFOA si{};
  si.cb = sizeof si;
  PROCESS_INFORMATION pi{};
  ASSERT_NE(CreateProcessA(nullptr, command.data(), nullptr, nullptr, FALSE, 0, nullptr, nullptr, &si, &pi), 0);
  while (waiters->load() == 0) std::this_thread::sleep_for(1ms);  // the child announced its sleep
  std::this_thread::sleep_for(50ms);
  const auto t0 = Clock::now();
  bell->fetch_add(1);
  futex_wake(*bell, static_cast<int>(waiters->load()));
  ASSERT_EQ(WaitForSingleObject(pi.hProcess, 30000), WAIT_OBJECT_0);
  DWORD code = 1;
  GetExitCodeProcess(pi.hProcess, &code);
  EXPECT_EQ(code, 0U) << "the child was not woken by the ring";
  EXPECT_LT(Clock::now() - t0, kWoken);
  CloseHandle(pi.hThread);
  CloseHandle(pi.hProcess);
  unregister_mapping(view);
  UnmapViewOfFile(view);
  CloseHandle(mapping);
}

#else

TEST(Doorbell, AnotherProcessIsWokenByARing) {
  void* shared = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(shared, MAP_FAILED);
  auto* waiters = static_cast<std::atomic<std::uint32_t>*>(shared);
  auto* bell = waiters + 16;
  const pid_t child = fork();
  if (child == 0) {
    waiters->fetch_add(1);
    const auto t0 = Clock::now();
    while (bell->load() == 0 && Clock::now() - t0 < kPatience) futex_wait(*bell, 0, kPatience);
    _exit(bell->load() == 1 && Clock::now() - t0 < kWoken ? 0 : 1);
  }
  while (waiters->load() == 0) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(50ms);
  bell->fetch_add(1);
  futex_wake(*bell, static_cast<int>(waiters->load()));
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child was not woken by the ring";
  munmap(shared, 4096);
}

#endif

}  // namespace
}  // namespace shmyolo::bus::detail
