// FrameRing on POSIX systems: a ring is a file in a shared-memory folder
// (/dev/shm, a container volume, hugetlbfs), reserved in full, mapped shared
// and pre-faulted; removing it is unlinking the file. src/bus/segment_win32.cpp
// is the same for Windows.
#include <shmyolo/bus/ring.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "cleanup_registry.hpp"
#include "geometry_limits.hpp"
#include "process.hpp"
#include "ring_internal.hpp"
#include "text.hpp"

namespace shmyolo::bus {

using detail::format_bytes;
using detail::round_up;
using detail::strf;

namespace {

// A file under a ring's name that is not a regular file: what it is, and
// what to do, in one line.
std::string not_a_ring(const std::filesystem::path& path, mode_t mode) {
  const char* kind = S_ISFIFO(mode)                   ? "a FIFO"
                     : S_ISDIR(mode)                  ? "a directory"
                     : S_ISSOCK(mode)                 ? "a socket"
                     : S_ISLNK(mode)                  ? "a symbolic link"
                     : S_ISCHR(mode) || S_ISBLK(mode) ? "a device"
                                                      : "an unusual file";
  return strf("%s is %s, not a shared-memory ring; remove it if nothing of yours uses it, or use another name",
              path.c_str(), kind);
}

BusError errno_error(int err, const std::string& what, const std::filesystem::path& path) {
  if (err == EACCES || err == EPERM) {
    return BusError{BusErrc::permission_denied,
                    strf("%s %s: permission denied; run as the user that created it, or create the ring with "
                         "group access (mode 0660) and share the group",
                         what.c_str(), path.c_str())};
  }
  return BusError{BusErrc::system_error, strf("%s %s: %s", what.c_str(), path.c_str(), std::strerror(err))};
}

BusError no_space_error(const std::string& name, const std::filesystem::path& dir, std::uint64_t needed,
                        std::uint64_t free_bytes) {
  if (const auto space = shm_space(dir); space && space->huge_pages) {
    return BusError{BusErrc::no_space, strf("cannot create ring %s in %s: %s", name.c_str(), dir.c_str(),
                                            huge_page_advice(needed, *space).c_str())};
  }
  return BusError{BusErrc::no_space,
                  strf("cannot create ring %s in %s: it needs %s (%llu bytes) but only %s (%llu bytes) are free; "
                       "enlarge %s (docker: --shm-size, Kubernetes: emptyDir sizeLimit), use fewer or smaller "
                       "slots, or point --shm-dir at a larger tmpfs",
                       name.c_str(), dir.c_str(), format_bytes(needed).c_str(), static_cast<unsigned long long>(needed),
                       format_bytes(free_bytes).c_str(), static_cast<unsigned long long>(free_bytes), dir.c_str())};
}
}  // namespace

BusResult<FrameRing> FrameRing::create(const RingOptions& o) {
  auto planned = plan_geometry(o);
  if (!planned) return std::unexpected(planned.error());
  RingGeometry g = *planned;
  const std::filesystem::path path = o.dir / o.name;
  const auto space = shm_space(o.dir);
  if (!space) {
    return bus_error(BusErrc::not_found,
                     strf("cannot create ring %s: directory %s is not usable (%s); create it or pass --shm-dir",
                          o.name.c_str(), o.dir.c_str(), std::strerror(errno)));
  }
  // hugetlbfs only maps whole huge pages: round the file up to the block size.
  g.total_bytes = round_up(g.total_bytes, space->block_bytes);

  int fd = -1;
  for (int attempt = 0; attempt < 2 && fd < 0; ++attempt) {
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, o.mode);
    if (fd >= 0 || errno != EEXIST) break;
    // Something else under the ring's name (a FIFO, a folder) is not ours to remove.
    if (struct stat st{}; ::lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
      return bus_error(BusErrc::already_exists, not_a_ring(path, st.st_mode));
    }
    const auto existing = FrameRing::attach(o.name, o.dir, Access::read_only);
    bool creator_dead = false;
    std::string holder = "another process";
    if (existing) {
      const RingCreator& c = existing->creator();
      creator_dead = !detail::process_alive(c.pid, c.start_ticks) ||
                     existing->header().state.load(std::memory_order_acquire) == RingState::closed;
      holder = strf("pid %d", c.pid);
    } else if (existing.error().code != BusErrc::permission_denied) {
      creator_dead = true;  // a file nobody can use as a ring under our name: a leftover
    }
    if (!(o.replace_stale && creator_dead)) {
      return bus_error(BusErrc::already_exists,
                       strf("ring %s already exists in %s and is held by %s; stop that pipeline, remove the "
                            "segment with 'shmyolo gc', or use another name",
                            o.name.c_str(), o.dir.c_str(), holder.c_str()));
    }
    ::unlink(path.c_str());  // stale: never reused, always recreated with the new geometry
  }
  if (fd < 0) return std::unexpected(errno_error(errno, "cannot create ring", path));
  ::fchmod(fd, o.mode);  // the umask must not narrow or widen what the caller asked for

  const auto fail = [&](BusError e) -> BusResult<FrameRing> {
    ::close(fd);
    ::unlink(path.c_str());
    return std::unexpected(std::move(e));
  };
  if (space->free_bytes < g.total_bytes) return fail(no_space_error(o.name, o.dir, g.total_bytes, space->free_bytes));
  // Reserve every page now: a full tmpfs fails here, not with SIGBUS on first touch.
  if (const int err = ::posix_fallocate(fd, 0, static_cast<off_t>(g.total_bytes)); err != 0) {
    if (err == ENOSPC)
      return fail(no_space_error(o.name, o.dir, g.total_bytes, shm_space(o.dir).value_or(ShmSpace{}).free_bytes));
    return fail(errno_error(err, "cannot reserve space for ring", path));
  }
  // MAP_POPULATE pre-faults the pages: a first write into a fresh page costs ~4x a memcpy.
  void* mem = ::mmap(nullptr, g.total_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  struct stat st {};
  ::fstat(fd, &st);
  if (mem == MAP_FAILED) return fail(errno_error(errno, "cannot map ring", path));
  ::close(fd);

  FrameRing ring;
  ring.name_ = o.name;
  ring.path_ = path;
  ring.base_ = static_cast<std::byte*>(mem);
  ring.mapped_bytes_ = g.total_bytes;
  ring.header_ = detail::initialise_segment(ring.base_, o, g);
  ring.geometry_ = g;
  ring.policy_ = ring.header_->policy;
  ring.creator_ = ring.header_->creator;
  ring.device_ = st.st_dev;
  ring.inode_ = st.st_ino;
  ring.owner_ = true;
  ring.cleanup_entry_ = detail::register_owned_segment(ring.header_, path.c_str());
  return ring;
}

BusResult<FrameRing> FrameRing::attach(std::string_view name, const std::filesystem::path& dir, Access access) {
  if (auto ok = check_ring_name(name); !ok) return std::unexpected(ok.error());
  const std::filesystem::path path = dir / std::string(name);
  const bool ro = access == Access::read_only;
  // O_NONBLOCK: a FIFO under a ring's name (any local user can make one)
  // would block open() until a writer came; it is refused below instead.
  const int fd = ::open(path.c_str(), (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) {
      if (const auto other = detail::find_mapped_elsewhere(name, dir.c_str())) {
        return bus_error(
            BusErrc::not_found,
            strf("no ring named %.*s in %s, but process %d (%s) has one of that name mapped from another file system "
                 "(device %s): the two processes do not share %s. Share it (docker: --ipc=container:NAME, compose: "
                 "ipc: \"service:NAME\"; Kubernetes: one pod, an emptyDir {medium: Memory} mounted at /dev/shm in "
                 "both containers) or give both --shm-dir on one common mount",
                 static_cast<int>(name.size()), name.data(), dir.c_str(), static_cast<int>(other->pid),
                 other->command.c_str(), other->device.c_str(), dir.c_str()));
      }
      return bus_error(BusErrc::not_found,
                       strf("no ring named %.*s in %s: is its pipeline running, and does this process see the "
                            "same %s (same IPC namespace or volume; in containers share /dev/shm or use "
                            "--shm-dir on a common mount)?",
                            static_cast<int>(name.size()), name.data(), dir.c_str(), dir.c_str()));
    }
    return std::unexpected(errno_error(errno, "cannot open ring", path));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return bus_error(BusErrc::invalid_header, not_a_ring(path, st.st_mode));
  }
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size < sizeof(RingHeader)) {
    ::close(fd);
    return bus_error(BusErrc::invalid_header,
                     strf("segment %s is not a valid shmyolo ring: the file is %llu bytes, shorter than its header; "
                          "remove it with 'shmyolo gc --invalid' if nothing else owns it",
                          path.c_str(), static_cast<unsigned long long>(size)));
  }
  void* mem = ::mmap(nullptr, size, ro ? PROT_READ : PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  ::close(fd);
  if (mem == MAP_FAILED) return std::unexpected(errno_error(errno, "cannot map ring", path));

  FrameRing ring;
  ring.name_ = std::string(name);
  ring.path_ = path;
  ring.base_ = static_cast<std::byte*>(mem);
  ring.mapped_bytes_ = size;
  ring.header_ = static_cast<RingHeader*>(mem);
  ring.read_only_ = ro;
  ring.device_ = st.st_dev;
  ring.inode_ = st.st_ino;
  const auto facts = detail::read_header_facts(ring.base_, size, path.native());
  if (!facts) return std::unexpected(facts.error());
  ring.geometry_ = facts->geometry;
  ring.policy_ = facts->policy;
  ring.creator_ = facts->creator;
  if (!ro && ring.creator_.pid_namespace != detail::self_pid_namespace()) {
    // relaxed: a hint read by reclaimers; a late view only delays a reclaim to the lease.
    ring.header_->mixed_pid_namespaces.store(1, std::memory_order_relaxed);
  }
  return ring;
}
void FrameRing::release_mapping() noexcept {
  if (base_ == nullptr) return;
  if (owner_) close();
  ::munmap(base_, mapped_bytes_);
  base_ = nullptr;
  header_ = nullptr;
}

void FrameRing::close() {
  if (!owner_ || header_ == nullptr) return;
  owner_ = false;
  const bool still_ours = detail::unregister_owned_segment(cleanup_entry_);
  cleanup_entry_ = -1;
  if (!still_ours) return;  // a signal handler already closed and unlinked it
  detail::mark_closed(*header_);
  // Unlink only the file this ring created: a successor may own the name now.
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0 && st.st_dev == device_ && st.st_ino == inode_) ::unlink(path_.c_str());
}

bool FrameRing::superseded() const {
  struct stat st {};
  return ::stat(path_.c_str(), &st) != 0 || st.st_dev != device_ || st.st_ino != inode_;
}

}  // namespace shmyolo::bus
