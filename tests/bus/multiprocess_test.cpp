// The bus between real processes (fork + exec of bus_peer and shmyolo).
#include <gtest/gtest.h>
#include <unistd.h>
#include <csignal>
#include <set>
#include <thread>

#include <shmyolo/bus/ring.hpp>

#include "stream_check.hpp"
#include "test_support.hpp"

using namespace shmyolo::bus;
using namespace shmyolo::test;
using namespace std::chrono_literals;

namespace {

using shmyolo::bus::test::Received;

std::vector<std::string> peer(const std::string& cmd, const TempShmDir& dir, const std::string& name,
                              std::vector<std::string> extra = {}) {
  std::vector<std::string> argv{bus_peer_bin(), cmd, "--dir", dir.path().string(), "--name", name};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

RingOptions ring_options(const TempShmDir& dir, const std::string& name, Delivery delivery) {
  RingOptions o = shmyolo::bus::test::stream_ring_options(name, delivery);
  o.dir = dir.path();
  return o;
}

// 1 producer process and 3 consumer processes move `frames` checksummed frames.
Received stream_frames(Delivery delivery, std::uint64_t frames, const std::string& linger_us) {
  TempShmDir dir;
  const std::string name = "shmyolo.t.stream";
  auto ring = FrameRing::create(ring_options(dir, name, delivery)).value();
  std::vector<Spawned> consumers;
  consumers.reserve(3);
  for (int i = 0; i < 3; ++i) {
    consumers.push_back(
        spawn(peer("consume", dir, name,
                   {"--out", (dir.path() / ("got" + std::to_string(i))).string(), "--linger-us", linger_us})));
  }
  const auto producer = run(peer("produce", dir, name, {"--frames", std::to_string(frames)}), 300s);
  EXPECT_EQ(producer.exit_code, 0) << producer.output;
  // Wait for the consumers to drain, then close: they exit on `closed`.
  for (int i = 0; i < 3000; ++i) {
    const auto& c = ring.header().counters;
    if (c.claimed.load() + c.dropped.load() >= c.published.load() && c.released.load() == c.claimed.load()) break;
    std::this_thread::sleep_for(10ms);
  }
  const auto counters = std::make_tuple(ring.header().counters.published.load(), ring.header().counters.claimed.load(),
                                        ring.header().counters.dropped.load());
  ring.close();
  Received r;
  for (int i = 0; i < 3; ++i) {
    const auto rc = wait_exit(consumers[static_cast<std::size_t>(i)].pid, 30s);
    EXPECT_EQ(rc, std::optional<int>(0)) << read_output(consumers[static_cast<std::size_t>(i)].stdout_fd, 100ms);
    shmyolo::bus::test::read_received(dir.path() / ("got" + std::to_string(i)), r);
  }
  const auto [published, claimed, dropped] = counters;
  EXPECT_EQ(claimed, r.total);
  if (delivery == Delivery::latest) {
    EXPECT_EQ(published, claimed + dropped);  // every frame is either processed or counted as dropped
  }
  return r;
}

}  // namespace

TEST(MultiProcess, QueueModeDeliversEveryFrameExactlyOnceIntact) {
  constexpr std::uint64_t kFrames = 100000;
  shmyolo::bus::test::expect_every_frame_once(stream_frames(Delivery::queue, kFrames, "0"), kFrames);
}

TEST(MultiProcess, LatestModeNeverTearsOrDuplicates) {
  constexpr std::uint64_t kFrames = 100000;
  shmyolo::bus::test::expect_none_torn_or_doubled(stream_frames(Delivery::latest, kFrames, "20"));
}

TEST(MultiProcess, KilledConsumersFrameIsRedeliveredAndItsSlotFreed) {
  TempShmDir dir;
  const std::string name = "shmyolo.t.kill";
  auto o = ring_options(dir, name, Delivery::queue);
  o.slot_count = 2;
  o.lease = 3000ms;
  auto ring = FrameRing::create(o).value();
  auto producer = Producer::attach(ring).value();
  {
    auto slot = producer.acquire().value();
    FrameMeta meta;
    meta.user[1] = 42;
    producer.publish(slot, meta);
  }
  const Spawned holder = spawn(peer("hold", dir, name));
  ASSERT_TRUE(read_until(holder.stdout_fd, "holding 42", 10s));
  EXPECT_EQ(ring.header().counters.claimed.load(), 1U);
  ::kill(holder.pid, SIGKILL);
  wait_exit(holder.pid, 5s);
  const auto t0 = std::chrono::steady_clock::now();
  Consumer consumer(ring);
  auto again = consumer.claim(10s);  // reclaims on its own while it waits
  const auto waited = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->info().meta.user[1], 42U);
  EXPECT_LT(waited, 3000ms);  // within the lease
  EXPECT_EQ(ring.header().counters.reclaimed.load(), 1U);
  ASSERT_TRUE(again->release());
  // Both slots are usable again.
  auto s1 = producer.acquire();
  auto s2 = producer.acquire();
  EXPECT_TRUE(s1 && s2);
}

TEST(MultiProcess, KilledProducerLeavesAStaleRingThatGcRemoves) {
  TempShmDir dir;
  const std::string name = "shmyolo.t.crash";
  const Spawned producer = spawn(peer("produce", dir, name, {"--create", "--frames", "100", "--hang-after", "2"}));
  ASSERT_TRUE(read_until(producer.stdout_fd, "hanging mid-write", 10s));
  const Spawned consumer = spawn(peer("consume", dir, name, {"--out", (dir.path() / "got").string()}));
  std::this_thread::sleep_for(200ms);
  ::kill(producer.pid, SIGKILL);
  wait_exit(producer.pid, 5s);
  const auto rc = wait_exit(consumer.pid, 10s);
  std::string out = read_output(consumer.stdout_fd, 1s);
  EXPECT_EQ(rc, std::optional<int>(3)) << out;  // reported stale, did not crash or hang
  EXPECT_NE(out.find("stale"), std::string::npos) << out;

  const auto ls = run({shmyolo_bin(), "ls", "--shm-dir", dir.path().string()});
  EXPECT_NE(ls.output.find("STALE"), std::string::npos) << ls.output;
  const auto gc = run({shmyolo_bin(), "gc", "--shm-dir", dir.path().string()});
  EXPECT_EQ(gc.exit_code, 0) << gc.output;
  EXPECT_NE(gc.output.find("removed " + name), std::string::npos) << gc.output;
  EXPECT_TRUE(dir.entries().empty());
}

TEST(MultiProcess, SecondLiveProducerIsRefused) {
  TempShmDir dir;
  const std::string name = "shmyolo.t.two";
  auto ring = FrameRing::create(ring_options(dir, name, Delivery::queue)).value();
  auto producer = Producer::attach(ring).value();
  const auto other = run(peer("produce", dir, name, {"--frames", "1"}));
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_NE(other.output.find("already has a producer, pid " + std::to_string(::getpid())), std::string::npos)
      << other.output;
}

TEST(MultiProcess, SigtermAndSigintUnlinkTheCreatorsSegments) {
  for (const int sig : {SIGTERM, SIGINT}) {
    TempShmDir dir;
    const Spawned p =
        spawn(peer("produce", dir, "shmyolo.t.sig", {"--create", "--frames", "100", "--hang-after", "3"}));
    ASSERT_TRUE(read_until(p.stdout_fd, "hanging mid-write", 10s));
    ASSERT_EQ(dir.entries().size(), 1U);
    ::kill(p.pid, sig);
    const auto rc = wait_exit(p.pid, 5s);
    EXPECT_EQ(rc, std::optional<int>(128 + sig));
    EXPECT_TRUE(dir.entries().empty()) << "signal " << sig;
  }
}

TEST(MultiProcess, LsAndInspectDescribeALiveRing) {
  TempShmDir dir;
  const std::string name = "shmyolo.t.cli";
  auto ring = FrameRing::create(ring_options(dir, name, Delivery::latest)).value();
  auto producer = Producer::attach(ring).value();
  auto slot = producer.acquire().value();
  producer.publish(slot, {});
  const auto ls = run({shmyolo_bin(), "ls", "--json", "--shm-dir", dir.path().string()});
  ASSERT_EQ(ls.exit_code, 0) << ls.output;
  EXPECT_NE(ls.output.find("\"name\": \"" + name + "\""), std::string::npos) << ls.output;
  EXPECT_NE(ls.output.find("\"alive\": true"), std::string::npos) << ls.output;
  EXPECT_NE(ls.output.find("\"published\": 1"), std::string::npos) << ls.output;
  EXPECT_NE(ls.output.find("\"mode\": \"0600\""), std::string::npos) << ls.output;
  const auto inspect = run({shmyolo_bin(), "inspect", name, "--shm-dir", dir.path().string()});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.output;
  EXPECT_NE(inspect.output.find("\"state\": \"ready\""), std::string::npos) << inspect.output;
  EXPECT_NE(inspect.output.find("\"delivery\": \"latest\""), std::string::npos) << inspect.output;
  // A live ring survives gc.
  const auto gc = run({shmyolo_bin(), "gc", "--shm-dir", dir.path().string()});
  EXPECT_EQ(gc.exit_code, 0);
  EXPECT_EQ(dir.entries().size(), 1U);
}

TEST(MultiProcess, InspectRefusesAScribbledHeaderInOneLine) {
  TempShmDir dir;
  const std::string name = "shmyolo.t.bad";
  auto ring = FrameRing::create(ring_options(dir, name, Delivery::latest)).value();
  ring.header().geometry.slot_count = 1000;
  const auto inspect = run({shmyolo_bin(), "inspect", name, "--shm-dir", dir.path().string()});
  EXPECT_EQ(inspect.exit_code, 1);
  EXPECT_NE(inspect.output.find("is not a valid shmyolo ring"), std::string::npos) << inspect.output;
  EXPECT_EQ(std::count(inspect.output.begin(), inspect.output.end(), '\n'), 1) << inspect.output;
  // gc keeps invalid segments unless asked: they may belong to someone else.
  run({shmyolo_bin(), "gc", "--shm-dir", dir.path().string()});
  EXPECT_EQ(dir.entries().size(), 1U);
  const auto gc = run({shmyolo_bin(), "gc", "--invalid", "--shm-dir", dir.path().string()});
  EXPECT_NE(gc.output.find("removed " + name), std::string::npos) << gc.output;
}

// Whether this machine lets us make a mount namespace with its own tmpfs
// (root, unshare, and no container policy forbidding it).
bool can_make_mount_namespaces() {
  if (::geteuid() != 0 || ::access("/usr/bin/unshare", X_OK) != 0) return false;
  return run({"/usr/bin/unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
              "mount -t tmpfs -o size=1m tmpfs /dev/shm"})
             .exit_code == 0;
}

// A producer in its own mount namespace with a private tmpfs on /dev/shm (what
// two containers that do not share /dev/shm amount to): a consumer here is
// told that the two do not share it, and which process has the ring.
TEST(Namespaces, RingInAnotherDevShmIsExplained) {
  if (!can_make_mount_namespaces()) GTEST_SKIP() << "needs root and unshare --mount";
  const std::string name = "shmyolo.t.ns" + std::to_string(::getpid());
  const Spawned producer =
      spawn({"/usr/bin/unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
             "mount -t tmpfs -o size=64m tmpfs /dev/shm && exec " + bus_peer_bin() + " produce --dir /dev/shm --name " +
                 name + " --create --frames 100 --hang-after 2"});
  std::string seen;
  ASSERT_TRUE(read_until(producer.stdout_fd, "hanging mid-write", 20s, &seen)) << seen;
  const auto ring = FrameRing::attach(name, "/dev/shm");
  ::kill(producer.pid, SIGKILL);
  wait_exit(producer.pid, 5s);
  ASSERT_FALSE(ring);
  const std::string& message = ring.error().message;
  EXPECT_EQ(ring.error().code, BusErrc::not_found);
  EXPECT_NE(message.find("do not share /dev/shm"), std::string::npos) << message;
  EXPECT_NE(message.find("process " + std::to_string(producer.pid)), std::string::npos) << message;
  EXPECT_NE(message.find("--shm-dir"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << "one line";
  // Its tmpfs went with its namespace; nothing of it is here.
  EXPECT_FALSE(std::filesystem::exists("/dev/shm/" + name));
}

// The fix the message gives: both sides on one directory they do share
// (--shm-dir; here a host folder the private namespace still sees).
TEST(Namespaces, CommonShmDirAcrossNamespacesCarriesFrames) {
  if (!can_make_mount_namespaces()) GTEST_SKIP() << "needs root and unshare --mount";
  const auto common = std::filesystem::temp_directory_path() / ("shmyolo-test-common-" + std::to_string(::getpid()));
  std::filesystem::create_directories(common);
  const std::string name = "shmyolo.t.common";
  const Spawned producer =
      spawn({"/usr/bin/unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
             "mount -t tmpfs -o size=64m tmpfs /dev/shm && exec " + bus_peer_bin() + " produce --dir " +
                 common.string() + " --name " + name + " --create --frames 100 --hang-after 2"});
  std::string seen;
  ASSERT_TRUE(read_until(producer.stdout_fd, "hanging mid-write", 20s, &seen)) << seen;
  auto ring = FrameRing::attach(name, common);
  ASSERT_TRUE(ring) << ring.error().message;
  Consumer consumer(*ring);
  for (std::uint64_t i = 0; i < 2; ++i) {
    auto claim = consumer.claim(5s);
    ASSERT_TRUE(claim) << claim.error().message;
    EXPECT_EQ(claim->info().meta.user[1], i);
    EXPECT_TRUE(claim->release());
  }
  ::kill(producer.pid, SIGKILL);
  wait_exit(producer.pid, 5s);
  std::filesystem::remove_all(common);
}
