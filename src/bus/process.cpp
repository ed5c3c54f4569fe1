#include "process.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

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

std::int32_t self_pid() {
  return static_cast<std::int32_t>(::getpid());
}

std::uint32_t self_uid() {
  return static_cast<std::uint32_t>(::getuid());
}

namespace {

// One line of /proc/<pid>/maps: "start-end perms offset major:minor inode path".
struct MapsLine {
  std::string device;
  std::string path;
};
std::optional<MapsLine> parse_maps_line(const std::string& line) {
  std::istringstream in(line);
  std::string range;
  std::string perms;
  std::string offset;
  MapsLine m;
  std::string inode;
  if (!(in >> range >> perms >> offset >> m.device >> inode)) return std::nullopt;
  std::getline(in >> std::ws, m.path);
  return m;
}

bool same_device(const std::string& major_minor, dev_t here) {
  unsigned major_id = 0;
  unsigned minor_id = 0;
  if (std::sscanf(major_minor.c_str(), "%x:%x", &major_id, &minor_id) != 2) return true;  // unreadable: no claim
  return makedev(major_id, minor_id) == here;
}

}  // namespace

std::optional<MappedElsewhere> find_mapped_elsewhere(std::string_view name, const char* dir) {
  struct stat here {};
  if (::stat(dir, &here) != 0) return std::nullopt;
  const std::string suffix = "/" + std::string(name);
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string pid_text = entry.path().filename();
    if (pid_text.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto pid = static_cast<pid_t>(std::stol(pid_text));
    if (pid == ::getpid()) continue;
    std::ifstream maps(entry.path() / "maps");
    for (std::string line; std::getline(maps, line);) {
      const auto m = parse_maps_line(line);
      if (!m || !m->path.ends_with(suffix) || same_device(m->device, here.st_dev)) continue;
      std::ifstream comm(entry.path() / "comm");
      MappedElsewhere found{.pid = pid, .command = {}, .device = m->device};
      std::getline(comm, found.command);
      return found;
    }
  }
  return std::nullopt;
}

}  // namespace shmyolo::bus::detail
