// shmyolo demo: synthetic cameras publishing into frame rings, a pool of
// worker processes claiming frames from all of them, live statistics.
// Until the detector lands, workers verify each frame's checksum in place
// instead of running a model: the frame bus itself, end to end.
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <shmyolo/bus/ring.hpp>

#include "commands.hpp"

namespace shmyolo::cli {
namespace {

constexpr int kBuckets = 40;  // latency histogram: bucket b holds [2^b, 2^(b+1)) microseconds / 4

struct CameraStats {  // shared between the demo's processes (anonymous mapping)
  std::atomic<std::uint64_t> processed;
  std::atomic<std::uint64_t> corrupt;
  std::atomic<std::uint64_t> histogram[kBuckets];
};

struct DemoOptions {
  int cameras = 2;
  int workers = 2;
  int fps = 30;
  double duration = 10;
  std::uint32_t width = 640;
  std::uint32_t height = 480;
  std::string json;
};

std::uint64_t checksum(std::span<const std::byte> bytes) {
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a 64 offset basis
  for (std::size_t i = 0; i < bytes.size(); i += 64) {
    h = (h ^ static_cast<std::uint64_t>(bytes[i])) * 1099511628211ULL;  // FNV-1a 64 prime
  }
  return h;
}

void render(std::span<std::byte> px, std::uint32_t w, std::uint32_t h, std::uint64_t frame, int camera) {
  const std::uint32_t box = h / 4;
  const std::uint32_t bx =
      static_cast<std::uint32_t>((frame * 7 + static_cast<std::uint64_t>(camera) * 90) % (w - box));
  const std::uint32_t by = static_cast<std::uint32_t>((frame * 3) % (h - box));
  for (std::uint32_t y = 0; y < h; ++y) {
    std::byte* row = px.data() + static_cast<std::size_t>(y) * w * 3;
    const bool in_rows = y >= by && y < by + box;
    for (std::uint32_t x = 0; x < w; ++x) {
      const bool in_box = in_rows && x >= bx && x < bx + box;
      row[x * 3 + 0] = static_cast<std::byte>(in_box ? 40 : (x + frame) & 0xFF);
      row[x * 3 + 1] = static_cast<std::byte>(in_box ? 200 : y & 0xFF);
      row[x * 3 + 2] = static_cast<std::byte>(in_box ? 60 : 90 + camera * 40);
    }
  }
}

volatile std::sig_atomic_t g_stop = 0;
void on_stop(int) {
  g_stop = 1;
}

[[noreturn]] void camera_main(const std::string& name, int camera, const DemoOptions& o) {
  std::signal(SIGTERM, on_stop);
  std::signal(SIGINT, on_stop);
  auto ring = bus::FrameRing::attach(name);
  if (!ring) _exit(fail(ring.error().message));
  auto producer = bus::Producer::attach(*ring);
  if (!producer) _exit(fail(producer.error().message));
  const auto period = std::chrono::nanoseconds(1'000'000'000LL / o.fps);
  auto next = std::chrono::steady_clock::now();
  for (std::uint64_t frame = 0; g_stop == 0; ++frame) {
    std::this_thread::sleep_until(next);
    next += period;
    auto slot = producer->acquire();
    if (!slot) continue;  // latest mode: every slot claimed, this frame is dropped
    bus::FrameMeta meta;
    meta.capture_unix_ns = bus::unix_ns();
    meta.capture_mono_ns = bus::monotonic_ns();
    render(slot->pixels(), o.width, o.height, frame, camera);
    meta.user[0] = checksum(slot->pixels());
    meta.user[1] = static_cast<std::uint64_t>(camera);
    producer->publish(*slot, meta);
  }
  _exit(0);
}

[[noreturn]] void worker_main(const std::vector<std::string>& names, CameraStats* stats) {
  std::signal(SIGTERM, on_stop);
  std::signal(SIGINT, on_stop);
  std::vector<bus::FrameRing> rings;
  for (const auto& n : names) {
    auto ring = bus::FrameRing::attach(n);
    if (!ring) _exit(fail(ring.error().message));
    rings.push_back(std::move(*ring));
  }
  std::vector<bus::Consumer> consumers;
  consumers.reserve(rings.size());
  for (auto& r : rings) consumers.emplace_back(r);
  std::vector<bus::Consumer*> pointers;
  pointers.reserve(consumers.size());
  for (auto& c : consumers) pointers.push_back(&c);
  while (g_stop == 0) {
    auto claim = bus::claim_any(pointers, std::chrono::milliseconds(200));
    if (!claim) continue;
    const auto& meta = claim->info().meta;
    const auto camera = static_cast<std::size_t>(meta.user[1] % names.size());
    if (checksum(claim->pixels()) != meta.user[0]) stats[camera].corrupt.fetch_add(1, std::memory_order_relaxed);
    const std::uint64_t us = (bus::monotonic_ns() - meta.capture_mono_ns) / 1000;
    int bucket = 0;
    while (bucket + 1 < kBuckets && (1ULL << (bucket + 1)) <= us) ++bucket;
    // relaxed: counters read by the parent for display only.
    stats[camera].histogram[bucket].fetch_add(1, std::memory_order_relaxed);
    stats[camera].processed.fetch_add(1, std::memory_order_relaxed);
  }
  _exit(0);
}

double percentile_us(const CameraStats& s, double p) {
  std::uint64_t total = 0;
  for (const auto& b : s.histogram) total += b.load(std::memory_order_relaxed);
  if (total == 0) return 0;
  std::uint64_t seen = 0;
  for (int b = 0; b < kBuckets; ++b) {
    seen += s.histogram[b].load(std::memory_order_relaxed);
    if (static_cast<double>(seen) >= p * static_cast<double>(total)) return static_cast<double>(1ULL << (b + 1));
  }
  return 0;
}

int run_demo(const DemoOptions& o) {
  std::vector<bus::FrameRing> rings;
  std::vector<std::string> names;
  for (int c = 0; c < o.cameras; ++c) {
    bus::RingOptions ro;
    ro.name = fmt::format("shmyolo.demo-{}.cam{}", ::getpid(), c);
    ro.width = o.width;
    ro.height = o.height;
    ro.slot_count = static_cast<std::uint32_t>(o.workers + 2);
    auto ring = bus::FrameRing::create(ro);
    if (!ring) return fail(ring.error().message);
    names.push_back(ro.name);
    rings.push_back(std::move(*ring));
  }
  void* mem =
      mmap(nullptr, sizeof(CameraStats) * names.size(), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return fail("cannot map the statistics area");
  auto* stats = new (mem) CameraStats[names.size()]{};
  std::vector<pid_t> children;
  for (int c = 0; c < o.cameras; ++c) {
    const pid_t pid = fork();
    if (pid == 0) camera_main(names[static_cast<std::size_t>(c)], c, o);
    children.push_back(pid);
  }
  for (int w = 0; w < o.workers; ++w) {
    const pid_t pid = fork();
    if (pid == 0) worker_main(names, stats);
    children.push_back(pid);
  }
  fmt::print("shmyolo demo: {} synthetic cameras ({}x{} @ {} fps) -> frame bus in {} -> {} worker processes\n",
             o.cameras, o.width, o.height, o.fps, bus::default_shm_dir().string(), o.workers);
  fmt::print("(frame-bus demo: workers verify each frame's checksum in place; the detector is not wired in yet)\n");
  std::signal(SIGINT, on_stop);
  std::signal(SIGTERM, on_stop);
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::uint64_t> last(names.size(), 0);
  while (g_stop == 0 && std::chrono::steady_clock::now() - start < std::chrono::duration<double>(o.duration)) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    for (std::size_t c = 0; c < names.size(); ++c) {
      const auto& counters = rings[c].header().counters;
      const std::uint64_t done = stats[c].processed.load(std::memory_order_relaxed);
      fmt::print(
          "  cam{}: in {:>6} out {:>6} ({:>4} fps)  dropped {:>4}  corrupt {}  latency p50 <{:.0f} us p99 <{:.0f} us\n",
          c, counters.published.load(std::memory_order_relaxed), done, done - last[c],
          counters.dropped.load(std::memory_order_relaxed), stats[c].corrupt.load(std::memory_order_relaxed),
          percentile_us(stats[c], 0.5), percentile_us(stats[c], 0.99));
      last[c] = done;
    }
    std::fflush(stdout);
  }
  for (const pid_t pid : children) kill(pid, SIGTERM);
  for (const pid_t pid : children) waitpid(pid, nullptr, 0);
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::uint64_t frames = 0;
  std::uint64_t corrupt = 0;
  for (std::size_t c = 0; c < names.size(); ++c) {
    frames += stats[c].processed.load();
    corrupt += stats[c].corrupt.load();
  }
  nlohmann::json summary{{"cameras", o.cameras},
                         {"workers", o.workers},
                         {"frames", frames},
                         {"fps", static_cast<double>(frames) / elapsed},
                         {"corrupt_frames", corrupt},
                         {"latency_us_p50", percentile_us(stats[0], 0.5)},
                         {"latency_us_p99", percentile_us(stats[0], 0.99)}};
  fmt::print("summary: {}\n", summary.dump());
  if (!o.json.empty()) std::ofstream(o.json) << summary.dump(2) << '\n';
  munmap(mem, sizeof(CameraStats) * names.size());
  return corrupt == 0 ? 0 : fail(fmt::format("{} frames arrived corrupted", corrupt));
}

}  // namespace

void add_demo_command(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<DemoOptions>();
  auto* demo = app.add_subcommand("demo", "Run synthetic cameras through the frame bus to a worker pool, live stats");
  demo->add_option("--cameras", opts->cameras, "Number of synthetic cameras")->check(CLI::Range(1, 64));
  demo->add_option("--workers", opts->workers, "Number of worker processes")->check(CLI::Range(1, 64));
  demo->add_option("--fps", opts->fps, "Frames per second per camera")->check(CLI::Range(1, 240));
  demo->add_option("--duration", opts->duration, "Seconds to run")->check(CLI::Range(0.5, 86400.0));
  demo->add_option("--json", opts->json, "Write a summary as JSON to this file");
  demo->callback([opts, &exit_code] { exit_code = run_demo(*opts); });
}

}  // namespace shmyolo::cli
