#include "process.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace shmyolo::bus::detail {

std::optional<ProcStat> read_proc_stat(pid_t pid) {
  std::array<char, 64> path{};
  std::snprintf(path.data(), path.size(), "/proc/%d/stat", static_cast<int>(pid));
  const int fd = ::open(path.data(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::array<char, 1024> buf{};
  const ssize_t n = ::read(fd, buf.data(), buf.size() - 1);
  ::close(fd);
  if (n <= 0) return std::nullopt;
  // The command name (field 2) may hold spaces and ')': fields resume after the last ')'.
  const char* p = std::strrchr(buf.data(), ')');
  if (p == nullptr) return std::nullopt;
  ++p;
  while (*p == ' ') ++p;
  ProcStat stat{};
  stat.state = *p;
  // After ')' comes field 3 (state); starttime is field 22, 19 fields further.
  for (int field = 3; field < 22 && *p != '\0'; ++field) {
    while (*p == ' ') ++p;
    while (*p != ' ' && *p != '\0') ++p;
  }
  while (*p == ' ') ++p;
  char* end = nullptr;
  const unsigned long long ticks = std::strtoull(p, &end, 10);
  if (end == p) return std::nullopt;
  stat.start_ticks = ticks;
  return stat;
}

std::optional<std::uint64_t> process_start_ticks(pid_t pid) {
  const auto stat = read_proc_stat(pid);
  if (!stat) return std::nullopt;
  return stat->start_ticks;
}

std::uint64_t self_start_ticks() {
  // Not cached: a forked child must report its own start time.
  return process_start_ticks(::getpid()).value_or(0);
}

std::uint64_t self_pid_namespace() {
  struct stat st {};
  if (::stat("/proc/self/ns/pid", &st) != 0) return 0;
  return static_cast<std::uint64_t>(st.st_ino);
}

bool pid_exists(pid_t pid) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
  // A zombie (killed, not yet reaped) holds its pid but will never release a claim.
  const auto stat = read_proc_stat(pid);
  return !stat || (stat->state != 'Z' && stat->state != 'X');
}

bool process_alive(pid_t pid, std::uint64_t start_ticks) {
  if (!pid_exists(pid)) return false;
  if (start_ticks == 0) return true;
  const auto now = process_start_ticks(pid);
  // No /proc entry but kill() found it: another pid namespace's /proc. Trust kill().
  return !now.has_value() || *now == start_ticks;
}

std::int32_t self_pid() {
  return static_cast<std::int32_t>(::getpid());
}

}  // namespace shmyolo::bus::detail
