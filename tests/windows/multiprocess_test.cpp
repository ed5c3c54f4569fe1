// The bus between real Windows processes (under Wine): bus_peer.exe, built
// from the same tests/bus/peer.cpp as on Linux, moves checksummed frames,
// and shmyolo.exe lists, inspects and collects the rings.
#include <windows.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <shmyolo/bus/ring.hpp>

#include "stream_check.hpp"  // tests/bus, shared with the Linux suite

namespace shmyolo::bus {
namespace {

using namespace std::chrono_literals;
using test::Received;

std::string program_dir() {
  std::string path(MAX_PATH, '\0');
  path.resize(GetModuleFileNameA(nullptr, path.data(), MAX_PATH));
  return path.substr(0, path.find_last_of("\\/") + 1);
}

// A folder of its own under the temp folder, removed at the end.
struct TempDir {
  std::filesystem::path path =
      std::filesystem::temp_directory_path() /
      ("shmyolo-wintest-" + std::to_string(GetCurrentProcessId()) + "-" + std::to_string(GetTickCount64()));
  TempDir() { std::filesystem::create_directories(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// A started program whose output goes to a file; killed if still running at the end.
class Process {
 public:
  Process(const std::string& command_line, const std::filesystem::path& output) : output_(output) {
    SECURITY_ATTRIBUTES inherit{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
    HANDLE out = CreateFileA(output.string().c_str(), GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, &inherit,
                             CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr);
    STARTUPINFOA si{};
    si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdOutput = out;
    si.hStdError = out;
    si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    std::string command = command_line;
    if (CreateProcessA(nullptr, command.data(), nullptr, nullptr, TRUE, 0, nullptr, nullptr, &si, &pi_) == 0) pi_ = {};
    CloseHandle(out);
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process() {
    if (pi_.hProcess == nullptr) return;
    TerminateProcess(pi_.hProcess, 9);
    WaitForSingleObject(pi_.hProcess, 5000);
    CloseHandle(pi_.hThread);
    CloseHandle(pi_.hProcess);
  }
  [[nodiscard]] bool started() const { return pi_.hProcess != nullptr; }
  [[nodiscard]] DWORD pid() const { return pi_.dwProcessId; }
  // The exit code, or 99 when it ran past the timeout.
  DWORD wait(std::chrono::milliseconds timeout) const {
    if (WaitForSingleObject(pi_.hProcess, static_cast<DWORD>(timeout.count())) != WAIT_OBJECT_0) return 99;
    DWORD code = 98;
    GetExitCodeProcess(pi_.hProcess, &code);
    return code;
  }
  void kill() const {
    TerminateProcess(pi_.hProcess, 9);
    WaitForSingleObject(pi_.hProcess, 10000);
  }
  [[nodiscard]] std::string output() const {
    std::ifstream in(output_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  bool wait_for_output(const std::string& what, std::chrono::seconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (output().find(what) == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(10ms);
    }
    return true;
  }

 private:
  std::filesystem::path output_;
  PROCESS_INFORMATION pi_{};
};

std::string peer_command(const std::string& verb, const std::string& ring, const std::string& extra = "") {
  return "\"" + program_dir() + "bus_peer.exe\" " + verb + " --name " + ring + " " + extra;
}

// shmyolo.exe is at the top of the build folder, two above this test's.
std::string shmyolo_command(const std::string& words) {
  return "\"" + program_dir() + "..\\..\\shmyolo.exe\" " + words;
}

struct Finished {
  DWORD exit_code;
  std::string output;
};

Finished run(const std::string& command, const TempDir& dir, const std::string& tag) {
  const Process p(command, dir.path / (tag + ".out"));
  const DWORD code = p.wait(60s);
  return {code, p.output()};
}

std::string unique_ring(const char* what) {
  return std::string("shmyolo.wintest-") + std::to_string(GetCurrentProcessId()) + "." + what;
}

// 1 producer process and 3 consumer processes move `frames` checksummed frames.
Received stream_frames(Delivery delivery, std::uint64_t frames, const std::string& linger_us) {
  const TempDir dir;
  const std::string name = unique_ring(delivery == Delivery::queue ? "queue" : "latest");
  auto ring = FrameRing::create(test::stream_ring_options(name, delivery)).value();
  std::vector<std::unique_ptr<Process>> consumers;
  for (int i = 0; i < 3; ++i) {
    const auto got = dir.path / ("got" + std::to_string(i));
    consumers.push_back(std::make_unique<Process>(
        peer_command("consume", name, "--out \"" + got.string() + "\" --linger-us " + linger_us),
        dir.path / ("consumer" + std::to_string(i) + ".out")));
    EXPECT_TRUE(consumers.back()->started());
  }
  const Finished producer = run(peer_command("produce", name, "--frames " + std::to_string(frames)), dir, "producer");
  EXPECT_EQ(producer.exit_code, 0U) << producer.output;
  // Wait for the consumers to drain, then close: they exit on `closed`.
  const auto& c = ring.header().counters;
  for (int i = 0; i < 3000; ++i) {
    if (c.claimed.load() + c.dropped.load() >= c.published.load() && c.released.load() == c.claimed.load()) break;
    std::this_thread::sleep_for(10ms);
  }
  const std::uint64_t published = c.published.load();
  const std::uint64_t claimed = c.claimed.load();
  const std::uint64_t dropped = c.dropped.load();
  ring.close();
  Received r;
  for (int i = 0; i < 3; ++i) {
    const auto& consumer = *consumers[static_cast<std::size_t>(i)];
    EXPECT_EQ(consumer.wait(30s), 0U) << consumer.output();
    test::read_received(dir.path / ("got" + std::to_string(i)), r);
  }
  EXPECT_EQ(claimed, r.total);
  if (delivery == Delivery::latest) {
    EXPECT_EQ(published, claimed + dropped);  // every frame is either processed or counted as dropped
  }
  return r;
}

TEST(WindowsMultiProcess, QueueModeDeliversEveryFrameExactlyOnceIntact) {
  constexpr std::uint64_t kFrames = 10000;
  test::expect_every_frame_once(stream_frames(Delivery::queue, kFrames, "0"), kFrames);
}

TEST(WindowsMultiProcess, LatestModeNeverTearsOrDuplicates) {
  constexpr std::uint64_t kFrames = 10000;
  test::expect_none_torn_or_doubled(stream_frames(Delivery::latest, kFrames, "20"));
}

// A killed producer (the ring's creator): a consumer is told the ring is
// stale, ls says STALE while a process still maps it, gc closes it and takes
// it out of the catalog, and it is gone with the last process that mapped it.
TEST(WindowsMultiProcess, KilledProducersRingIsStaleAndCollected) {
  const TempDir dir;
  const std::string name = unique_ring("crash");
  const Process producer(peer_command("produce", name, "--create --frames 100 --hang-after 2"),
                         dir.path / "producer.out");
  ASSERT_TRUE(producer.wait_for_output("hanging mid-write", 20s)) << producer.output();
  const Process holder(peer_command("hold", name), dir.path / "holder.out");  // keeps the mapping alive
  ASSERT_TRUE(holder.wait_for_output("holding 0", 20s)) << holder.output();
  const Process consumer(peer_command("consume", name, "--out \"" + (dir.path / "got").string() + "\""),
                         dir.path / "consumer.out");
  std::this_thread::sleep_for(200ms);
  producer.kill();
  EXPECT_EQ(consumer.wait(20s), 3U) << consumer.output();  // reported stale, did not crash or hang
  EXPECT_NE(consumer.output().find("stale"), std::string::npos) << consumer.output();

  const Finished ls = run(shmyolo_command("ls"), dir, "ls");
  EXPECT_EQ(ls.exit_code, 0U) << ls.output;
  const auto line = ls.output.find(name);
  ASSERT_NE(line, std::string::npos) << ls.output;
  EXPECT_NE(ls.output.find("STALE", line), std::string::npos) << ls.output;
  const Finished gc = run(shmyolo_command("gc"), dir, "gc");
  EXPECT_EQ(gc.exit_code, 0U) << gc.output;
  EXPECT_NE(gc.output.find("removed " + name), std::string::npos) << gc.output;
  const Finished after = run(shmyolo_command("ls"), dir, "ls-after");
  EXPECT_EQ(after.output.find(name), std::string::npos) << after.output;
  {  // Closed by gc: the holder's ring says so, and the mapping goes with the holder.
    const auto seen = FrameRing::attach(name);
    ASSERT_TRUE(seen) << seen.error().message;
    EXPECT_EQ(seen->header().state.load(), RingState::closed);
  }
  holder.kill();
  const auto gone = FrameRing::attach(name);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, BusErrc::not_found) << gone.error().message;
}

TEST(WindowsMultiProcess, LsAndInspectDescribeALiveRingAndGcKeepsIt) {
  const TempDir dir;
  const std::string name = unique_ring("cli");
  auto ring = FrameRing::create(test::stream_ring_options(name, Delivery::latest)).value();
  auto producer = Producer::attach(ring).value();
  auto slot = producer.acquire().value();
  producer.publish(slot, {});
  const Finished ls = run(shmyolo_command("ls --json"), dir, "ls");
  ASSERT_EQ(ls.exit_code, 0U) << ls.output;
  EXPECT_NE(ls.output.find("\"name\": \"" + name + "\""), std::string::npos) << ls.output;
  EXPECT_NE(ls.output.find("\"alive\": true"), std::string::npos) << ls.output;
  EXPECT_NE(ls.output.find("\"published\": 1"), std::string::npos) << ls.output;
  EXPECT_NE(ls.output.find("\"path\": \"Local\\\\" + name + "\""), std::string::npos) << ls.output;
  const Finished inspect = run(shmyolo_command("inspect " + name), dir, "inspect");
  ASSERT_EQ(inspect.exit_code, 0U) << inspect.output;
  EXPECT_NE(inspect.output.find("\"state\": \"ready\""), std::string::npos) << inspect.output;
  EXPECT_NE(inspect.output.find("\"delivery\": \"latest\""), std::string::npos) << inspect.output;
  const Finished gc = run(shmyolo_command("gc"), dir, "gc");
  EXPECT_EQ(gc.exit_code, 0U) << gc.output;
  EXPECT_EQ(gc.output.find("removed " + name), std::string::npos) << gc.output;
  EXPECT_EQ(ring.header().state.load(), RingState::active);
  ring.close();  // the creator takes it out of the catalog
  const Finished after = run(shmyolo_command("ls"), dir, "ls-after");
  EXPECT_EQ(after.output.find(name), std::string::npos) << after.output;
}

TEST(WindowsMultiProcess, InspectRefusesAScribbledHeaderInOneLine) {
  const TempDir dir;
  const std::string name = unique_ring("bad");
  auto ring = FrameRing::create(test::stream_ring_options(name, Delivery::latest)).value();
  ring.header().geometry.slot_count = 1000;
  const Finished inspect = run(shmyolo_command("inspect " + name), dir, "inspect");
  EXPECT_EQ(inspect.exit_code, 1U);
  EXPECT_NE(inspect.output.find("is not a valid shmyolo ring"), std::string::npos) << inspect.output;
  EXPECT_EQ(std::count(inspect.output.begin(), inspect.output.end(), '\n'), 1) << inspect.output;
  // A consumer in another process is refused the same way, and exits.
  const Finished consumer = run(peer_command("consume", name, "--out nul"), dir, "consumer");
  EXPECT_EQ(consumer.exit_code, 1U) << consumer.output;
  EXPECT_NE(consumer.output.find("is not a valid shmyolo ring"), std::string::npos) << consumer.output;
}

TEST(WindowsMultiProcess, SecondLiveProducerIsRefused) {
  const TempDir dir;
  const std::string name = unique_ring("two");
  auto ring = FrameRing::create(test::stream_ring_options(name, Delivery::queue)).value();
  auto producer = Producer::attach(ring).value();
  const Finished other = run(peer_command("produce", name, "--frames 1"), dir, "other");
  EXPECT_EQ(other.exit_code, 1U);
  EXPECT_NE(other.output.find("already has a producer, pid " + std::to_string(GetCurrentProcessId())),
            std::string::npos)
      << other.output;
}

}  // namespace
}  // namespace shmyolo::bus
