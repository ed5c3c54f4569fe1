// bus_peer: the other process in multi-process bus tests.
//
//   bus_peer create  --dir D --name N [geometry]           create a ring and exit (status 1 + message on error)
//   bus_peer produce --dir D --name N --frames K [--create [geometry]] [--rate HZ] [--hang-after K]
//   bus_peer consume --dir D --name N --out FILE [--linger-ms MS]
//   bus_peer hold    --dir D --name N                       claim one frame, print its seq, sleep
//
// Frames are pseudo-random bytes seeded by their index; user[0] is a checksum
// over every byte and user[1] the index, so a consumer detects a torn frame
// (checksum) and a frame under the wrong label (content vs index).
// Exit codes: 0 done, 1 error, 2 corrupt frame seen, 3 ring reported stale.
// Portable: the Windows tests run it too (tests/windows).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include <shmyolo/bus/cleanup.hpp>
#include <shmyolo/bus/ring.hpp>

#include "frame_pattern.hpp"

using namespace shmyolo::bus;
using namespace std::chrono_literals;

namespace {

std::map<std::string, std::string> parse(int argc, char** argv) {
  std::map<std::string, std::string> args;
  for (int i = 2; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (!flag.starts_with("--")) continue;
    const std::string key(flag.substr(2));
    const bool has_value = i + 1 < argc && !std::string_view(argv[i + 1]).starts_with("--");
    args[key] = has_value ? argv[++i] : "1";
  }
  return args;
}

std::string get(const std::map<std::string, std::string>& a, const std::string& k, const std::string& fallback = "") {
  const auto it = a.find(k);
  return it == a.end() ? fallback : it->second;
}

RingOptions ring_options(const std::map<std::string, std::string>& a) {
  RingOptions o;
  o.name = get(a, "name");
  o.dir = get(a, "dir", default_shm_dir().string());
  o.width = static_cast<std::uint32_t>(std::stoul(get(a, "width", "64")));
  o.height = static_cast<std::uint32_t>(std::stoul(get(a, "height", "48")));
  o.slot_count = static_cast<std::uint32_t>(std::stoul(get(a, "slots", "4")));
  o.delivery = get(a, "mode", "queue") == "latest" ? Delivery::latest : Delivery::queue;
  o.queue_wait = std::chrono::milliseconds(std::stol(get(a, "queue-wait-ms", "10000")));
  o.lease = std::chrono::milliseconds(std::stol(get(a, "lease-ms", "2000")));
  o.stale_after = std::chrono::milliseconds(std::stol(get(a, "stale-ms", "3000")));
  return o;
}

int cmd_create(const std::map<std::string, std::string>& a) {
  auto ring = FrameRing::create(ring_options(a));
  if (!ring) {
    std::fprintf(stderr, "%s\n", ring.error().message.c_str());
    return 1;
  }
  std::printf("created %s\n", ring->path().string().c_str());
  return 0;
}

int cmd_produce(const std::map<std::string, std::string>& a) {
  const RingOptions o = ring_options(a);
  std::optional<FrameRing> ring;
  auto made = a.count("create") != 0U ? FrameRing::create(o) : FrameRing::attach(o.name, o.dir);
  if (!made) {
    std::fprintf(stderr, "%s\n", made.error().message.c_str());
    return 1;
  }
  ring.emplace(std::move(*made));
  auto producer = Producer::attach(*ring);
  if (!producer) {
    std::fprintf(stderr, "%s\n", producer.error().message.c_str());
    return 1;
  }
  const std::uint64_t frames = std::stoull(get(a, "frames", "1000"));
  const double rate = std::stod(get(a, "rate", "0"));
  const std::int64_t hang_after = std::stoll(get(a, "hang-after", "-1"));
  std::uint64_t full = 0;
  const auto start = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < frames; ++i) {
    if (rate > 0) std::this_thread::sleep_until(start + std::chrono::duration<double>(static_cast<double>(i) / rate));
    auto slot = producer->acquire();
    if (!slot) {
      if (slot.error().code == BusErrc::ring_full) {
        ++full;
        continue;
      }
      std::fprintf(stderr, "%s\n", slot.error().message.c_str());
      return 1;
    }
    if (hang_after >= 0 && i == static_cast<std::uint64_t>(hang_after)) {
      std::printf("hanging mid-write\n");
      std::fflush(stdout);
      std::this_thread::sleep_for(1h);  // the test kills us here, slot in `writing`
    }
    FrameMeta meta;
    meta.user[0] = test::fill_frame(slot->pixels(), i);
    meta.user[1] = i;
    producer->publish(*slot, meta);
  }
  std::printf("published %llu ring_full %llu\n", static_cast<unsigned long long>(frames - full),
              static_cast<unsigned long long>(full));
  if (a.count("create") != 0U) {
    // Let consumers drain what is still ready before the ring closes.
    for (int i = 0; i < 1000 && ring->header().counters.claimed.load() + ring->header().counters.dropped.load() <
                                    ring->header().counters.published.load();
         ++i) {
      std::this_thread::sleep_for(10ms);
    }
  }
  return 0;
}

int cmd_consume(const std::map<std::string, std::string>& a) {
  const RingOptions o = ring_options(a);
  auto ring = FrameRing::attach(o.name, o.dir);
  if (!ring) {
    std::fprintf(stderr, "%s\n", ring.error().message.c_str());
    return 1;
  }
  FILE* out = std::fopen(get(a, "out").c_str(), "w");
  if (out == nullptr) return 1;
  const auto linger = std::chrono::microseconds(std::stol(get(a, "linger-us", "0")));
  Consumer consumer(*ring);
  int rc = 0;
  while (true) {
    auto claim = consumer.claim(10s);
    if (!claim) {
      if (claim.error().code == BusErrc::closed) break;
      if (claim.error().code == BusErrc::producer_gone) {
        std::printf("stale: %s\n", claim.error().message.c_str());
        rc = 3;
        break;
      }
      if (claim.error().code == BusErrc::timeout) continue;
      std::fprintf(stderr, "%s\n", claim.error().message.c_str());
      rc = 1;
      break;
    }
    const auto& info = claim->info();
    const bool intact = test::check_frame(claim->pixels(), info.meta.user[1], info.meta.user[0]);
    if (!intact) rc = 2;
    std::fprintf(out, "%llu %d\n", static_cast<unsigned long long>(info.meta.user[1]), intact ? 1 : 0);
    if (linger.count() > 0) std::this_thread::sleep_for(linger);
  }
  std::fclose(out);
  return rc;
}

int cmd_hold(const std::map<std::string, std::string>& a) {
  const RingOptions o = ring_options(a);
  auto ring = FrameRing::attach(o.name, o.dir);
  if (!ring) return 1;
  Consumer consumer(*ring);
  auto claim = consumer.claim(10s);
  if (!claim) return 1;
  std::printf("holding %llu\n", static_cast<unsigned long long>(claim->info().meta.user[1]));
  std::fflush(stdout);
  std::this_thread::sleep_for(1h);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  install_signal_cleanup();
  if (argc < 2) return 1;
  const std::string cmd = argv[1];
  const auto args = parse(argc, argv);
  if (cmd == "create") return cmd_create(args);
  if (cmd == "produce") return cmd_produce(args);
  if (cmd == "consume") return cmd_consume(args);
  if (cmd == "hold") return cmd_hold(args);
  return 1;
}
