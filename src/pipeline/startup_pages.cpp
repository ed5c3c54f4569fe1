#include "startup_pages.hpp"

#include <sys/mman.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

namespace shmyolo::pipeline {
namespace {

struct Mapping {
  std::uintptr_t begin = 0;
  std::uintptr_t end = 0;
  std::string perms;
  std::string path;
};

// One line of /proc/self/maps: "begin-end perms offset dev inode path".
Mapping parse(const std::string& line) {
  Mapping m;
  std::istringstream in(line);
  std::string range;
  std::string offset;
  std::string device;
  std::string inode;
  in >> range >> m.perms >> offset >> device >> inode >> m.path;
  const auto dash = range.find('-');
  if (dash == std::string::npos) return {};
  m.begin = std::stoull(range.substr(0, dash), nullptr, 16);
  m.end = std::stoull(range.substr(dash + 1), nullptr, 16);
  return m;
}

// A file's read-only, private mapping: code and constants, whose pages can
// always be read back. Writable mappings hold data, shared ones the rings.
bool reclaimable(const Mapping& m) {
  return m.end > m.begin && m.perms.size() == 4 && m.perms[1] == '-' && m.perms[3] == 'p' && m.path.starts_with('/') &&
         !m.path.starts_with("/dev/");
}

}  // namespace

std::size_t release_startup_pages() {
  std::ifstream maps("/proc/self/maps");
  std::size_t advised = 0;
  for (std::string line; std::getline(maps, line);) {
    const Mapping m = parse(line);
    if (!reclaimable(m)) continue;
    // NOLINTNEXTLINE(performance-no-int-to-ptr): the kernel's own addresses
    void* begin = reinterpret_cast<void*>(m.begin);
    if (madvise(begin, m.end - m.begin, MADV_PAGEOUT) == 0) advised += m.end - m.begin;
  }
  return advised;
}

}  // namespace shmyolo::pipeline
