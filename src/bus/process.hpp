// Facts about processes that the ring protocol relies on: whether a pid is
// still the process that wrote it, and which pid namespace a process is in.
#pragma once

#include <sys/types.h>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shmyolo::bus::detail {

struct ProcStat {
  char state = '?';  // field 3: R, S, D, Z (zombie), ...
  std::uint64_t start_ticks = 0;
};
std::optional<ProcStat> read_proc_stat(pid_t pid);

// Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), or
// nothing when the process does not exist.
std::optional<std::uint64_t> process_start_ticks(pid_t pid);
std::uint64_t self_start_ticks();
// Inode of /proc/self/ns/pid: equal values mean pids are comparable.
std::uint64_t self_pid_namespace();
// kill(pid, 0): false only when the pid does not exist (ESRCH).
bool pid_exists(pid_t pid);
// The pid exists and, when start_ticks is non-zero, is the same process. A
// pid that exists without a start time to compare (another pid namespace's
// /proc on Linux) is taken as alive.
inline bool process_alive(pid_t pid, std::uint64_t start_ticks) {
  if (!pid_exists(pid)) return false;
  if (start_ticks == 0) return true;
  const auto now = process_start_ticks(pid);
  return !now.has_value() || *now == start_ticks;
}
std::int32_t self_pid();
// The user a ring's creator runs as (getuid; 0 on Windows, whose mappings a
// security descriptor restricts instead).
std::uint32_t self_uid();

// A process that has a file named `name` mapped from another file system
// than `dir` is on here: it sees a different /dev/shm (another mount or IPC
// namespace, a container that does not share it). Only processes whose maps
// this one may read are seen (same user, or root).
struct MappedElsewhere {
  pid_t pid = 0;
  std::string command;  // /proc/<pid>/comm
  std::string device;   // "major:minor" of the file system it maps from
};
std::optional<MappedElsewhere> find_mapped_elsewhere(std::string_view name, const char* dir);

}  // namespace shmyolo::bus::detail
