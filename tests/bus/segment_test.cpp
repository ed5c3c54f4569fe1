// Segments: creation, attaching, validation of untrusted headers, permissions,
// and running out of shared memory.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cctype>
#include <cstring>

#include <shmyolo/bus/ring.hpp>

#include "test_support.hpp"

using namespace shmyolo::bus;
using shmyolo::test::TempShmDir;

namespace {

RingOptions small_ring(const TempShmDir& dir, const std::string& name = "shmyolo.t.cam0") {
  RingOptions o;
  o.name = name;
  o.dir = dir.path();
  o.width = 64;
  o.height = 48;
  o.slot_count = 3;
  return o;
}

// Rewrites bytes of a segment file in place, as a scribbling process would.
template <class Edit>
void scribble(const std::filesystem::path& path, Edit edit) {
  const int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  struct stat st {};
  ::fstat(fd, &st);
  void* mem = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ASSERT_NE(mem, MAP_FAILED);
  edit(*static_cast<RingHeader*>(mem));
  ::munmap(mem, static_cast<std::size_t>(st.st_size));
  ::close(fd);
}

}  // namespace

TEST(Segment, CreateLaysOutPageAlignedSlotsWithOwnerOnlyMode) {
  TempShmDir dir;
  auto ring = FrameRing::create(small_ring(dir));
  ASSERT_TRUE(ring) << ring.error().message;
  const auto& g = ring->geometry();
  EXPECT_EQ(g.frame_bytes, 64U * 48U * 3U);
  EXPECT_EQ(g.slot_stride % kPageBytes, 0U);
  for (std::uint32_t i = 0; i < g.slot_count; ++i) {
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(ring->slot_pixels(i)) % kPageBytes, 0U) << "slot " << i;
  }
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() / "shmyolo.t.cam0").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  EXPECT_EQ(static_cast<std::uint64_t>(st.st_size), g.total_bytes);
  EXPECT_EQ(ring->creator().pid, ::getpid());
  EXPECT_EQ(ring->header().magic.load(), kRingMagic);
}

TEST(Segment, GroupModeIsKeptDespiteUmask) {
  TempShmDir dir;
  auto o = small_ring(dir);
  o.mode = 0660;
  const mode_t old = ::umask(077);
  auto ring = FrameRing::create(o);
  ::umask(old);
  ASSERT_TRUE(ring);
  struct stat st {};
  ::stat(ring->path().c_str(), &st);
  EXPECT_EQ(st.st_mode & 0777, 0660U);
}

TEST(Segment, AttachSeesTheCreatorsGeometry) {
  TempShmDir dir;
  auto created = FrameRing::create(small_ring(dir));
  ASSERT_TRUE(created);
  auto attached = FrameRing::attach("shmyolo.t.cam0", dir.path());
  ASSERT_TRUE(attached) << attached.error().message;
  EXPECT_EQ(attached->geometry().width, 64U);
  EXPECT_EQ(attached->geometry().slot_count, 3U);
  EXPECT_FALSE(attached->owner());
}

TEST(Segment, DestroyingTheCreatorUnlinksAndClosesTheRing) {
  TempShmDir dir;
  std::optional<FrameRing> created(FrameRing::create(small_ring(dir)).value());
  auto attached = FrameRing::attach("shmyolo.t.cam0", dir.path()).value();
  created.reset();
  EXPECT_TRUE(dir.entries().empty());
  EXPECT_EQ(attached.health(), RingHealth::closed);
  EXPECT_TRUE(attached.superseded());
}

TEST(Segment, MissingRingNamesTheDirectoryAndSharing) {
  TempShmDir dir;
  auto r = FrameRing::attach("shmyolo.t.nothing", dir.path());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, BusErrc::not_found);
  EXPECT_NE(r.error().message.find("shmyolo.t.nothing"), std::string::npos);
  EXPECT_NE(r.error().message.find("--shm-dir"), std::string::npos);
}

TEST(Segment, BadNamesAndGeometryAreRefused) {
  TempShmDir dir;
  for (const std::string& name :
       std::vector<std::string>{"", "../etc/passwd", "a/b", "sp ace", std::string(200, 'x')}) {
    auto o = small_ring(dir, name);
    auto r = FrameRing::create(o);
    ASSERT_FALSE(r) << name;
    EXPECT_EQ(r.error().code, BusErrc::invalid_argument);
  }
  auto o = small_ring(dir);
  o.width = 0;
  EXPECT_EQ(FrameRing::create(o).error().code, BusErrc::invalid_argument);
  o.width = 100000;
  EXPECT_EQ(FrameRing::create(o).error().code, BusErrc::invalid_argument);
  o = small_ring(dir);
  o.slot_count = 0;
  EXPECT_EQ(FrameRing::create(o).error().code, BusErrc::invalid_argument);
  EXPECT_TRUE(dir.entries().empty());
}

TEST(Segment, ALiveCreatorsRingIsNotTakenOver) {
  TempShmDir dir;
  auto first = FrameRing::create(small_ring(dir));
  ASSERT_TRUE(first);
  auto second = FrameRing::create(small_ring(dir));
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, BusErrc::already_exists);
  EXPECT_NE(second.error().message.find(std::to_string(::getpid())), std::string::npos);
}

// A creator that crashes never unlinks: its child here exits without
// running any destructor, leaving the segment behind as a crash would.
void create_and_crash(const RingOptions& o) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    auto ring = FrameRing::create(o);
    _exit(ring ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_EQ(WEXITSTATUS(status), 0);
}

TEST(Segment, ADeadCreatorsRingIsRecreatedWithTheNewGeometry) {
  TempShmDir dir;
  auto o = small_ring(dir);
  create_and_crash(o);
  ASSERT_EQ(dir.entries().size(), 1U);
  o.width = 128;
  auto fresh = FrameRing::create(o);
  ASSERT_TRUE(fresh) << fresh.error().message;
  EXPECT_EQ(fresh->geometry().width, 128U);
  auto seen = FrameRing::attach(o.name, dir.path()).value();
  EXPECT_EQ(seen.geometry().width, 128U);
  EXPECT_EQ(seen.creator().pid, ::getpid());
}

struct Tamper {
  const char* what;
  void (*edit)(RingHeader&);
  BusErrc code;
};

class TamperedHeader : public ::testing::TestWithParam<Tamper> {};

TEST_P(TamperedHeader, IsRefusedWithAClearError) {
  TempShmDir dir;
  auto o = small_ring(dir);
  auto ring = FrameRing::create(o).value();
  scribble(ring.path(), GetParam().edit);
  auto r = FrameRing::attach(o.name, dir.path());
  ASSERT_FALSE(r) << GetParam().what;
  EXPECT_EQ(r.error().code, GetParam().code) << r.error().message;
  EXPECT_NE(r.error().message.find(o.name), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
  auto ro = FrameRing::attach(o.name, dir.path(), Access::read_only);
  EXPECT_FALSE(ro);
}

INSTANTIATE_TEST_SUITE_P(
    Segment, TamperedHeader,
    ::testing::Values(
        Tamper{"wrong magic", [](RingHeader& h) { h.magic.store(0x4141414141414141ULL); }, BusErrc::invalid_header},
        Tamper{"zero magic", [](RingHeader& h) { h.magic.store(0); }, BusErrc::not_ready},
        Tamper{"future version", [](RingHeader& h) { h.layout_version = 99; }, BusErrc::version_mismatch},
        Tamper{"slots beyond file", [](RingHeader& h) { h.geometry.slot_count = 900; }, BusErrc::invalid_header},
        Tamper{"stride beyond file", [](RingHeader& h) { h.geometry.slot_stride = 1U << 30; }, BusErrc::invalid_header},
        Tamper{"zero width", [](RingHeader& h) { h.geometry.width = 0; }, BusErrc::invalid_header},
        Tamper{"huge height", [](RingHeader& h) { h.geometry.height = 100000; }, BusErrc::invalid_header},
        Tamper{"frame bytes lie", [](RingHeader& h) { h.geometry.frame_bytes = 1; }, BusErrc::invalid_header},
        Tamper{"unknown format", [](RingHeader& h) { h.geometry.pixel_format = static_cast<PixelFormat>(77); },
               BusErrc::invalid_header},
        Tamper{"slots over descriptors", [](RingHeader& h) { h.geometry.slots_offset = kPageBytes; },
               BusErrc::invalid_header},
        Tamper{"total beyond file", [](RingHeader& h) { h.geometry.total_bytes += 1ULL << 40; },
               BusErrc::invalid_header},
        Tamper{"unterminated name", [](RingHeader& h) { std::memset(h.name, 'x', sizeof(h.name)); },
               BusErrc::invalid_header},
        Tamper{"zero lease", [](RingHeader& h) { h.policy.lease_ms = 0; }, BusErrc::invalid_header}),
    [](const ::testing::TestParamInfo<Tamper>& param_info) {
      std::string name = param_info.param.what;
      for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) != 0 ? c : '_';
      return name;
    });

TEST(Segment, TruncatedFileIsRefused) {
  TempShmDir dir;
  const auto path = dir.path() / "shmyolo.t.short";
  const int fd = ::open(path.c_str(), O_CREAT | O_RDWR, 0600);
  ASSERT_EQ(::write(fd, "SHMYOLO1", 8), 8);
  ::close(fd);
  auto r = FrameRing::attach("shmyolo.t.short", dir.path());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, BusErrc::invalid_header);
  EXPECT_NE(r.error().message.find("shorter than its header"), std::string::npos);
}

TEST(Segment, ScribbledPayloadSizeIsNotTrusted) {
  TempShmDir dir;
  auto ring = FrameRing::create(small_ring(dir)).value();
  auto producer = Producer::attach(ring).value();
  auto slot = producer.acquire().value();
  const auto index = slot.index();
  producer.publish(slot, {});
  ring.descriptor(index).payload_bytes = 1ULL << 40;  // another process scribbles
  Consumer consumer(ring);
  auto claim = consumer.try_claim();
  ASSERT_FALSE(claim);
  EXPECT_EQ(claim.error().code, BusErrc::invalid_header);
  // The slot went back into service.
  EXPECT_EQ(SlotControl{ring.descriptor(index).control.load()}.state(), SlotState::free);
}

TEST(Segment, TooLittleSpaceFailsAtCreationWithBytesNeededAndFree) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs in a private mount namespace";
  TempShmDir dir;
  const auto mnt = dir.path() / "small";
  std::filesystem::create_directories(mnt);
  const std::string script = "mount -t tmpfs -o size=1m tmpfs " + mnt.string() + " && exec " +
                             shmyolo::test::bus_peer_bin() + " create --dir " + mnt.string() +
                             " --name shmyolo.t.big --width 1920 --height 1080 --slots 4";
  const auto r = shmyolo::test::run({"/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c", script});
  if (r.output.find("unshare failed") != std::string::npos || r.output.find("mount:") != std::string::npos) {
    GTEST_SKIP() << "this machine does not allow a private mount namespace: " << r.output;
  }
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("needs 23.7 MiB (24895488 bytes)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("only 1.0 MiB (1048576 bytes) are free"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--shm-size"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("Bus error"), std::string::npos);
}

TEST(Segment, AnotherUserCannotOpenAnOwnerOnlyRing) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a command as another uid with setpriv";
  TempShmDir dir;
  ::chmod(dir.path().c_str(), 0755);  // the directory is searchable; the ring itself is 0600
  auto ring = FrameRing::create(small_ring(dir)).value();
  const auto r =
      shmyolo::test::run({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                          shmyolo::test::shmyolo_bin(), "inspect", "shmyolo.t.cam0", "--shm-dir", dir.path().string()});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("permission denied"), std::string::npos) << r.output;
  // And a process of that uid cannot read the pixels directly either.
  const auto cat = shmyolo::test::run(
      {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/bin/cat", ring.path().string()});
  EXPECT_NE(cat.exit_code, 0);
}

// Any local user can make a FIFO under a ring's name in /dev/shm. Opening one
// for reading blocks until a writer comes: every tool must refuse it at once.
TEST(Segment, AFifoUnderARingsNameIsRefusedWithoutHanging) {
  TempShmDir dir;
  const auto fifo = dir.path() / "shmyolo.t.cam0";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  const auto attached = FrameRing::attach("shmyolo.t.cam0", dir.path(), Access::read_only);
  ASSERT_FALSE(attached);
  EXPECT_NE(attached.error().message.find("is a FIFO, not a shared-memory ring"), std::string::npos)
      << attached.error().message;
  const auto created = FrameRing::create(small_ring(dir));
  ASSERT_FALSE(created);
  EXPECT_NE(created.error().message.find("is a FIFO"), std::string::npos) << created.error().message;
  EXPECT_TRUE(std::filesystem::is_fifo(fifo)) << "someone else's FIFO was removed";
  const std::string bin = shmyolo::test::shmyolo_bin();
  const std::string shm = dir.path().string();
  for (const std::vector<std::string>& argv : {std::vector<std::string>{bin, "ls", "--shm-dir", shm},
                                               {bin, "inspect", "shmyolo.t.cam0", "--shm-dir", shm},
                                               {bin, "gc", "--shm-dir", shm}}) {
    const auto r = shmyolo::test::run(argv, std::chrono::seconds(10));
    EXPECT_NE(r.exit_code, -1) << argv[1] << " hung";
    EXPECT_NE(r.output.find("FIFO"), std::string::npos) << argv[1] << ": " << r.output;
  }
  EXPECT_TRUE(std::filesystem::is_fifo(fifo)) << "gc without --invalid removed it";
  const auto r = shmyolo::test::run({bin, "gc", "--invalid", "--shm-dir", shm}, std::chrono::seconds(10));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(std::filesystem::exists(fifo)) << "gc --invalid is asked to remove what is not a ring";
}

// A shared folder of mode 0777 without the sticky bit (how a Kubernetes
// emptyDir is made) lets any user unlink any file in it. gc --invalid run by
// another user must still leave rings it cannot read alone.
TEST(Segment, GcAsAnotherUserNeverRemovesRingsItCannotRead) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a command as another uid with setpriv";
  TempShmDir dir;
  ::chmod(dir.path().c_str(), 0777);
  auto ring = FrameRing::create(small_ring(dir)).value();
  const auto r =
      shmyolo::test::run({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                          shmyolo::test::shmyolo_bin(), "gc", "--invalid", "--shm-dir", dir.path().string()});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(std::filesystem::exists(ring.path())) << r.output;
  EXPECT_NE(r.output.find("cannot be read by this user"), std::string::npos) << r.output;
}
