// Rings between processes on Windows (under Wine): another process claims
// what this one published, through a named mapping and its doorbell; and a
// process killed while it holds a frame has that frame delivered again, its
// death seen by its pid and creation time.
#include <windows.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include <shmyolo/bus/ring.hpp>

namespace shmyolo::bus {
namespace {

using namespace std::chrono_literals;

struct Child {
  PROCESS_INFORMATION pi{};
  Child(const std::string& ring, const char* mode) {
    std::string path(MAX_PATH, '\0');
    path.resize(GetModuleFileNameA(nullptr, path.data(), MAX_PATH));
    std::string command = path.substr(0, path.find_last_of("\\/") + 1) + "bus_ring_child.exe " + ring + " " + mode;
    STARTUPINFOA si{};
    si.cb = sizeof si;
    if (CreateProcessA(nullptr, command.data(), nullptr, nullptr, FALSE, 0, nullptr, nullptr, &si, &pi) == 0) pi = {};
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pi.hProcess == nullptr) return;
    TerminateProcess(pi.hProcess, 9);
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
  }
  DWORD wait() const {
    if (WaitForSingleObject(pi.hProcess, 30000) != WAIT_OBJECT_0) return 99;
    DWORD code = 98;
    GetExitCodeProcess(pi.hProcess, &code);
    return code;
  }
};

RingOptions queue_ring(const char* what) {
  RingOptions o;
  o.name = std::string("shmyolo.windows-") + std::to_string(GetCurrentProcessId()) + "." + what;
  o.width = 64;
  o.height = 16;
  o.slot_count = 4;
  o.delivery = Delivery::queue;
  return o;
}

void publish_sevens(Producer& producer) {
  auto slot = producer.acquire();
  ASSERT_TRUE(slot) << slot.error().message;
  std::memset(slot->pixels().data(), 7, slot->pixels().size());
  producer.publish(*slot, {});
}

TEST(WindowsRing, AnotherProcessClaimsWhatThisOnePublished) {
  auto ring = FrameRing::create(queue_ring("claim")).value();
  auto producer = Producer::attach(ring).value();
  const Child child(ring.name(), "claim");
  ASSERT_NE(child.pi.hProcess, nullptr);
  std::this_thread::sleep_for(100ms);  // the child is asleep on the ring by now, most likely
  publish_sevens(producer);
  EXPECT_EQ(child.wait(), 0U) << "the other process did not get the frame whole";
  EXPECT_EQ(ring.header().counters.claimed.load(), 1U);
  EXPECT_EQ(ring.header().counters.released.load(), 1U);
}

TEST(WindowsRing, AKilledClaimersFrameIsDeliveredAgain) {
  auto ring = FrameRing::create(queue_ring("killed")).value();
  auto producer = Producer::attach(ring).value();
  publish_sevens(producer);
  {
    const Child holder(ring.name(), "hold");
    ASSERT_NE(holder.pi.hProcess, nullptr);
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (ring.header().counters.claimed.load() == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(5ms);
    }
    ASSERT_EQ(ring.header().counters.claimed.load(), 1U) << "the other process never claimed the frame";
    TerminateProcess(holder.pi.hProcess, 9);
    WaitForSingleObject(holder.pi.hProcess, 10000);
  }
  Consumer consumer(ring);
  auto again = consumer.claim(5s);  // the dead claimer is noticed, its frame is ready again
  ASSERT_TRUE(again) << (again ? "" : again.error().message);
  EXPECT_EQ(again->info().frame_seq, 0U);
  EXPECT_EQ(ring.header().counters.reclaimed.load(), 1U);
}

// More than the commit limit (RAM plus paging files): refused at creation,
// in one line with the bytes needed, and not at first touch.
TEST(WindowsRing, ARingBeyondTheCommitLimitIsRefusedWithTheBytesNeeded) {
  RingOptions o = queue_ring("huge");
  o.width = 16384;
  o.height = 16384;
  o.slot_count = 1024;  // 824 GB
  const auto ring = FrameRing::create(o);
  ASSERT_FALSE(ring);
  EXPECT_EQ(ring.error().code, BusErrc::no_space);
  const std::string& message = ring.error().message;
  EXPECT_NE(message.find("of committed memory"), std::string::npos) << message;
  EXPECT_NE(message.find(std::to_string(plan_geometry(o)->total_bytes) + " bytes"), std::string::npos) << message;
  EXPECT_NE(message.find("enlarge the paging file"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_FALSE(FrameRing::attach(o.name)) << "nothing is left under its name";
}

}  // namespace
}  // namespace shmyolo::bus
