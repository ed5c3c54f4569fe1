// Listing and collecting rings on POSIX systems (catalog_platform.hpp): a
// ring is a file named shmyolo.* in a shared-memory folder; collecting a
// stale one is unlinking it.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "catalog_platform.hpp"
#include "text.hpp"

namespace shmyolo::bus {

std::string segments_place(const std::filesystem::path& dir) {
  return dir.string();
}

namespace detail {

BusResult<std::vector<std::string>> segment_names(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) return bus_error(BusErrc::not_found, strf("cannot list %s: %s", dir.c_str(), ec.message().c_str()));
  std::vector<std::string> names;
  for (const auto& entry : it) {
    std::string name = entry.path().filename().string();
    if (name.starts_with("shmyolo.")) names.push_back(std::move(name));
  }
  return names;
}

void read_segment_facts(const std::string& name, const std::filesystem::path& dir, SegmentInfo& info) {
  info.path = dir / name;
  struct stat st {};
  if (::lstat(info.path.c_str(), &st) != 0) return;
  info.file_bytes = static_cast<std::uint64_t>(st.st_size);
  info.mode = st.st_mode & 07777;
  info.file_uid = st.st_uid;
  info.age_seconds = std::difftime(std::time(nullptr), st.st_mtime);
}

std::string remove_stale_segment(const SegmentInfo& info, const std::filesystem::path& /*dir*/) {
  if (::unlink(info.path.c_str()) == 0 || errno == ENOENT) return {};
  return strf("cannot remove %s: %s", info.path.c_str(), std::strerror(errno));
}

}  // namespace detail
}  // namespace shmyolo::bus
