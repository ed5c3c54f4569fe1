// How much shared memory Windows can still give (ring.hpp's shm_space): a
// ring's pages are committed when it is created (segment_win32.cpp), so the
// commit limit bounds it: what is left of RAM plus the paging files.
#include <windows.h>

#include <shmyolo/bus/layout.hpp>
#include <shmyolo/bus/ring.hpp>

namespace shmyolo::bus {

std::optional<ShmSpace> shm_space(const std::filesystem::path& /*dir*/) {
  MEMORYSTATUSEX status{};
  status.dwLength = sizeof status;
  if (GlobalMemoryStatusEx(&status) == 0) return std::nullopt;
  ShmSpace s;
  s.block_bytes = kPageBytes;
  s.free_bytes = status.ullAvailPageFile;  // the commit still available, despite the name
  return s;
}

}  // namespace shmyolo::bus
