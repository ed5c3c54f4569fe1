// Liveness on Windows (process.hpp): a pid with its creation time, so a
// reused pid is not taken for the process that wrote it. Windows pids are
// one system-wide namespace, so every pid is comparable.
#include "process.hpp"

#include <windows.h>

namespace shmyolo::bus::detail {
namespace {

// A handle that closes itself.
struct ProcessHandle {
  HANDLE h = nullptr;
  explicit ProcessHandle(pid_t pid)
      : h(OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, static_cast<DWORD>(pid))) {}
  ProcessHandle(const ProcessHandle&) = delete;
  ProcessHandle& operator=(const ProcessHandle&) = delete;
  ~ProcessHandle() {
    if (h != nullptr) CloseHandle(h);
  }
};

bool running(HANDLE h) {
  DWORD code = 0;
  return GetExitCodeProcess(h, &code) != 0 && code == STILL_ACTIVE;
}

// The creation time in 100 ns units since 1601: what /proc's start ticks are on Linux.
std::optional<std::uint64_t> creation_time(HANDLE h) {
  FILETIME created{};
  FILETIME exited{};
  FILETIME kernel{};
  FILETIME user{};
  if (GetProcessTimes(h, &created, &exited, &kernel, &user) == 0) return std::nullopt;
  return (static_cast<std::uint64_t>(created.dwHighDateTime) << 32) | created.dwLowDateTime;
}

}  // namespace

std::optional<ProcStat> read_proc_stat(pid_t pid) {
  const ProcessHandle p(pid);
  if (p.h == nullptr || !running(p.h)) return std::nullopt;
  const auto ticks = creation_time(p.h);
  if (!ticks) return std::nullopt;
  return ProcStat{.state = 'R', .start_ticks = *ticks};
}

std::optional<std::uint64_t> process_start_ticks(pid_t pid) {
  const auto stat = read_proc_stat(pid);
  if (!stat) return std::nullopt;
  return stat->start_ticks;
}

std::uint64_t self_start_ticks() {
  return creation_time(GetCurrentProcess()).value_or(0);
}

std::uint64_t self_pid_namespace() {
  return 1;  // one namespace: pids of every process on the machine are comparable
}

bool pid_exists(pid_t pid) {
  if (pid <= 0) return false;
  const ProcessHandle p(pid);
  // Another user's process may refuse even this query: it exists.
  if (p.h == nullptr) return GetLastError() == ERROR_ACCESS_DENIED;
  return running(p.h);  // an exited process whose handle someone keeps holds its pid but lives no more
}

std::int32_t self_pid() {
  return static_cast<std::int32_t>(GetCurrentProcessId());
}

std::uint32_t self_uid() {
  return 0;  // a mapping's security descriptor says who may open it (segment_win32.cpp)
}

std::optional<MappedElsewhere> find_mapped_elsewhere(std::string_view /*name*/, const char* /*dir*/) {
  return std::nullopt;  // named mappings live in one namespace per session: no other file system to find
}

}  // namespace shmyolo::bus::detail
