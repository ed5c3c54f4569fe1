// Liveness, the bus's judge of whether a ring's producer or a claim's owner
// still runs: the same test on Linux (/proc) and, cross-built, under Wine
// (process creation times). A reused pid must not pass for the process that
// wrote it, so the start time is part of every check.
#include <gtest/gtest.h>

#include <cstdlib>

#if defined(_WIN32)
#include <windows.h>
#else
#include <sys/wait.h>
#include <unistd.h>
#endif

#include "../../src/bus/process.hpp"

namespace shmyolo::bus::detail {
namespace {

// A child process that has exited, and its pid.
pid_t exited_child() {
#if defined(_WIN32)
  STARTUPINFOA si{};
  si.cb = sizeof si;
  PROCESS_INFORMATION pi{};
  char command[] = "cmd.exe /c exit 0";
  if (CreateProcessA(nullptr, command, nullptr, nullptr, FALSE, 0, nullptr, nullptr, &si, &pi) == 0) return 0;
  WaitForSingleObject(pi.hProcess, INFINITE);
  const auto pid = static_cast<pid_t>(pi.dwProcessId);
  CloseHandle(pi.hThread);
  CloseHandle(pi.hProcess);
  return pid;
#else
  const pid_t pid = fork();
  if (pid == 0) _exit(0);
  waitpid(pid, nullptr, 0);
  return pid;
#endif
}

TEST(Liveness, ThisProcessIsAliveWithItsOwnStartTime) {
  const pid_t self = self_pid();
  ASSERT_GT(self, 0);
  EXPECT_TRUE(pid_exists(self));
  const std::uint64_t start = self_start_ticks();
  ASSERT_NE(start, 0U);
  EXPECT_EQ(process_start_ticks(self), start);
  EXPECT_TRUE(process_alive(self, start));
  EXPECT_TRUE(process_alive(self, 0)) << "no start time known: the pid alone decides";
  EXPECT_FALSE(process_alive(self, start + 1)) << "another start time: a reused pid, not the writer";
  EXPECT_EQ(self_pid_namespace(), self_pid_namespace());
}

TEST(Liveness, AnExitedProcessIsNotAlive) {
  const pid_t gone = exited_child();
  ASSERT_GT(gone, 0);
  EXPECT_FALSE(process_alive(gone, 0));
  EXPECT_FALSE(pid_exists(0));
  EXPECT_FALSE(pid_exists(-1));
}

}  // namespace
}  // namespace shmyolo::bus::detail
