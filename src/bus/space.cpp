// How much a shared-memory folder can still hold. tmpfs answers statvfs
// truthfully; hugetlbfs does not (a mount without size= reports 0 blocks),
// so there the kernel's free huge pages of the mount's page size count.
#include <sys/statfs.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <fstream>

#include <shmyolo/bus/layout.hpp>
#include <shmyolo/bus/ring.hpp>

#include "text.hpp"

namespace shmyolo::bus {
namespace {

using detail::strf;

constexpr long kHugetlbfsMagic = 0x958458f6;  // HUGETLBFS_MAGIC, linux/magic.h

std::uint64_t read_count(const std::string& path) {
  std::ifstream in(path);
  std::uint64_t n = 0;
  in >> n;
  return n;
}

// Huge pages of this size the kernel can still hand out: free minus those
// promised to mappings not yet touched.
std::uint64_t free_huge_pages(std::uint64_t page_bytes) {
  const std::string dir =
      strf("/sys/kernel/mm/hugepages/hugepages-%llukB/", static_cast<unsigned long long>(page_bytes / 1024));
  const std::uint64_t free = read_count(dir + "free_hugepages");
  const std::uint64_t reserved = read_count(dir + "resv_hugepages");
  return free > reserved ? free - reserved : 0;
}

}  // namespace

std::optional<ShmSpace> shm_space(const std::filesystem::path& dir) {
  struct statvfs sv {};
  struct statfs sf {};
  if (::statvfs(dir.c_str(), &sv) != 0 || ::statfs(dir.c_str(), &sf) != 0) return std::nullopt;
  ShmSpace s;
  s.block_bytes = std::max<std::uint64_t>(sv.f_bsize, kPageBytes);
  s.free_bytes = static_cast<std::uint64_t>(sv.f_bavail) * sv.f_frsize;
  if (static_cast<long>(sf.f_type) == kHugetlbfsMagic) {
    s.huge_pages = true;
    const std::uint64_t kernel_free = free_huge_pages(s.block_bytes) * s.block_bytes;
    // A mount with size= has its own cap (f_blocks > 0); without, only the kernel's pool counts.
    s.free_bytes = sv.f_blocks > 0 ? std::min(s.free_bytes, kernel_free) : kernel_free;
  }
  return s;
}

std::string huge_page_advice(std::uint64_t needed, const ShmSpace& space) {
  const std::uint64_t page = space.block_bytes;
  const std::uint64_t pages = (needed + page - 1) / page;
  const std::uint64_t have = space.free_bytes / page;
  return strf(
      "it is a hugetlbfs mount and needs %llu huge pages of %llu MiB, but the kernel has %llu free: reserve "
      "them as root (echo %llu > /proc/sys/vm/nr_hugepages, or hugepages=%llu on the kernel command line) "
      "or point --shm-dir at a tmpfs such as /dev/shm",
      static_cast<unsigned long long>(pages), static_cast<unsigned long long>(page >> 20),
      static_cast<unsigned long long>(have), static_cast<unsigned long long>(pages),
      static_cast<unsigned long long>(pages));
}

}  // namespace shmyolo::bus
