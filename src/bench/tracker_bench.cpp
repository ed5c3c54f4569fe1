#include "tracker_bench.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <vector>

#include <fmt/format.h>
#include <shmyolo/track/scene.hpp>

namespace shmyolo::bench {
namespace {

constexpr float kWidth = 1920;
constexpr float kHeight = 1080;
constexpr std::uint64_t kFrameNs = 33'333'333;  // a 30 fps camera

struct Mover {
  float x, y, vx, vy, size;
  int class_id;
};

float bounce(float& p, float& v, float span) {
  p += v;
  if (p < 0 || p > span) {
    v = -v;
    p = std::clamp(p, 0.0F, span);
  }
  return p;
}

double percentile(std::vector<double> v, double q) {
  std::ranges::sort(v);
  return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
}

}  // namespace

TrackerBenchReport run_tracker_bench(const TrackerBenchOptions& o) {
  std::mt19937_64 rng(o.seed);
  std::uniform_real_distribution<float> unit(0, 1);
  std::normal_distribution<float> jitter(0, 1.5F);
  std::vector<Mover> movers;
  for (int i = 0; i < o.objects; ++i) {
    const float size = 40 + 60 * unit(rng);
    movers.push_back(
        {unit(rng) * (kWidth - size), unit(rng) * (kHeight - size), 8 * unit(rng) - 4, 8 * unit(rng) - 4, size, i % 4});
  }
  track::Tracker tracker({});
  track::Scene scene({},
                     {{.name = "west", .points = {{0, 0}, {960, 0}, {960, 1080}, {0, 1080}}},
                      {.name = "north", .points = {{0, 0}, {1920, 0}, {1920, 540}}}},
                     {{.name = "middle", .from = {960, 0}, .to = {960, 1080}},
                      {.name = "equator", .from = {0, 540}, .to = {1920, 540}}});
  TrackerBenchReport report;
  std::vector<double> times;
  std::vector<std::uint64_t> last_id(movers.size(), 0);
  std::vector<track::SceneEvent> events;
  std::vector<detect::Detection> detections;
  std::vector<std::size_t> owner;  // the mover of each detection
  for (int f = 0; f < o.frames; ++f) {
    detections.clear();
    owner.clear();
    for (std::size_t i = 0; i < movers.size(); ++i) {
      Mover& m = movers[i];
      const float x = bounce(m.x, m.vx, kWidth - m.size);
      const float y = bounce(m.y, m.vy, kHeight - m.size);
      if (unit(rng) < 0.03F) continue;  // missed in this frame
      const float score = unit(rng) < 0.1F ? 0.3F : 0.6F + 0.4F * unit(rng);
      detections.push_back(
          {m.class_id, score, {x + jitter(rng), y + jitter(rng), x + m.size + jitter(rng), y + m.size + jitter(rng)}});
      owner.push_back(i);
    }
    events.clear();
    const auto ns = static_cast<std::uint64_t>(f) * kFrameNs;
    const auto start = std::chrono::steady_clock::now();
    const auto ids = tracker.update(ns, detections);
    scene.observe(tracker, ns, events);
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    report.events += events.size();
    for (std::size_t d = 0; d < ids.size(); ++d) {
      if (ids[d] == 0) continue;
      std::uint64_t& last = last_id[owner[d]];
      if (last != 0 && last != ids[d]) ++report.id_switches;
      last = ids[d];
    }
    for (const auto& e : events) report.tracks_started += e.type == track::EventType::start ? 1 : 0;
  }
  double sum = 0;
  for (const double t : times) sum += t;
  report.mean_ms = sum / static_cast<double>(times.size());
  report.p50_ms = percentile(times, 0.5);
  report.p99_ms = percentile(times, 0.99);
  report.max_ms = *std::ranges::max_element(times);
  return report;
}

std::string tracker_table(const TrackerBenchOptions& o, const TrackerBenchReport& r) {
  return fmt::format(
      "tracker + scene (2 zones, 2 lines), {} objects, {} frames at 30 fps, 1920x1080\n"
      "  per frame: mean {:.4f} ms  p50 {:.4f} ms  p99 {:.4f} ms  max {:.4f} ms\n"
      "  tracks started {} for {} objects, id switches {}, events {}\n",
      o.objects, o.frames, r.mean_ms, r.p50_ms, r.p99_ms, r.max_ms, r.tracks_started, o.objects, r.id_switches,
      r.events);
}

}  // namespace shmyolo::bench
