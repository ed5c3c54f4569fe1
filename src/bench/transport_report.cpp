// What `shmyolo bench transport` reports, on every system: the figures from
// the latencies the consumer process noted, and the table and JSON.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <shmyolo/bus/ring.hpp>

#include "transport_internal.hpp"

namespace shmyolo::bench {

using bus::monotonic_ns;

std::unique_ptr<bus::FrameRing> create_bench_ring(const std::string& name, const TransportOptions& o) {
  bus::RingOptions ro;
  ro.name = name;
  if (!o.shm_dir.empty()) ro.dir = o.shm_dir;
  ro.width = o.width;
  ro.height = o.height;
  ro.slot_count = 4;
  ro.delivery = bus::Delivery::queue;
  ro.queue_wait = std::chrono::milliseconds(10000);
  auto r = bus::FrameRing::create(ro);
  if (!r) throw std::runtime_error(r.error().message);
  return std::make_unique<bus::FrameRing>(std::move(*r));
}

bool bus_send(bus::Producer& producer, const std::byte* frame, std::size_t bytes) {
  auto slot = producer.acquire();
  if (!slot) return false;
  // Rendering/decoding into the slot is the producer's own work; the
  // handoff starts when the frame is complete.
  std::memcpy(slot->pixels().data(), frame, bytes);
  producer.publish(*slot, {});
  return true;
}

std::uint64_t bus_receive(bus::Consumer& consumer) {
  auto claim = consumer.claim(std::chrono::seconds(10));
  if (!claim) return 0;
  return claim->info().publish_mono_ns;  // the claim releases on scope exit
}

namespace {

// One memcpy of a frame, in microseconds (the median of 30, hot caches).
double memcpy_floor_us(std::size_t bytes) {
  std::vector<std::byte> a(bytes, std::byte{1});
  std::vector<std::byte> b(bytes, std::byte{2});
  std::vector<double> times;
  for (int i = 0; i < 30; ++i) {
    const std::uint64_t t0 = monotonic_ns();
    std::memcpy(b.data(), a.data(), bytes);
    const std::uint64_t t1 = monotonic_ns();
    times.push_back(static_cast<double>(t1 - t0) / 1e3);
    a[static_cast<std::size_t>(i)] = b[static_cast<std::size_t>(i) + 1];  // keep the copy observable
  }
  return percentile(times, 0.5);
}

// p50, p99, max and mean of the consumer's latencies.
void summarise_latency(TransportResult& r, std::span<const std::uint64_t> latency_ns) {
  std::vector<double> lat;
  lat.reserve(latency_ns.size());
  for (const std::uint64_t ns : latency_ns) lat.push_back(static_cast<double>(ns) / 1e3);
  r.p50_us = percentile(lat, 0.5);
  r.p99_us = percentile(lat, 0.99);
  r.max_us = lat.empty() ? 0 : *std::max_element(lat.begin(), lat.end());
  r.mean_us = lat.empty() ? 0 : std::accumulate(lat.begin(), lat.end(), 0.0) / static_cast<double>(lat.size());
}

}  // namespace

TransportReport start_report(const TransportOptions& o) {
  TransportReport report;
  report.frame_bytes = static_cast<std::uint64_t>(o.width) * o.height * 3;
  report.memcpy_us = memcpy_floor_us(report.frame_bytes);
  report.cpus = static_cast<int>(std::thread::hardware_concurrency());
  return report;
}

void measure_transport(TransportResult& r, const TransportOptions& o, const Shared& s,
                       const std::function<bool(const Phase&)>& run) {
  const auto failed = [&] { r.error = s.error[0] != '\0' ? s.error : "a benchmark process failed"; };
  try {
    const Phase paced{std::min(o.latency_frames, kMaxFrames), o.rate_hz};
    if (!run(paced)) return failed();
    summarise_latency(r, std::span(s.latency_ns, s.received));
    r.consumer_cpu_pct = 100.0 * s.cpu_seconds * o.rate_hz / static_cast<double>(paced.frames);
    const Phase flat{std::min(o.throughput_frames, kMaxFrames), 0};
    if (!run(flat)) return failed();
    const double seconds = static_cast<double>(s.last_ns - s.first_ns) / 1e9;
    r.fps = seconds > 0 ? static_cast<double>(s.received - 1) / seconds : 0;
  } catch (const std::exception& e) {
    r.error = e.what();
  }
}

std::string report_table(const TransportReport& r) {
  std::string out = fmt::format("frame: {} bytes (1920x1080x3 = 1080p BGR); one memcpy: {:.0f} us; {} CPUs\n\n",
                                r.frame_bytes, r.memcpy_us, r.cpus);
  out += fmt::format("| {:<11} | {:<32} | {:>6} | {:>9} | {:>9} | {:>9} | {:>8} | {:>13} |\n", "transport", "placement",
                     "copies", "p50 us", "p99 us", "max us", "fps", "consumer CPU%");
  out +=
      "|-------------|----------------------------------|--------|-----------|-----------|-----------|----------|------"
      "---------|\n";
  for (const auto& t : r.results) {
    if (!t.error.empty()) {
      out += fmt::format("| {:<11} | {:<32} | failed: {} |\n", t.transport, t.placement, t.error);
      continue;
    }
    out += fmt::format("| {:<11} | {:<32} | {:>6} | {:>9.1f} | {:>9.1f} | {:>9.1f} | {:>8.1f} | {:>13.1f} |\n",
                       t.transport, t.placement, t.copies, t.p50_us, t.p99_us, t.max_us, t.fps, t.consumer_cpu_pct);
  }
  return out;
}

std::string report_json(const TransportReport& r) {
  nlohmann::json j;
  j["frame_bytes"] = r.frame_bytes;
  j["memcpy_us"] = r.memcpy_us;
  j["cpus"] = r.cpus;
  j["results"] = nlohmann::json::array();
  for (const auto& t : r.results) {
    nlohmann::json e{{"transport", t.transport},
                     {"placement", t.placement},
                     {"copies", t.copies},
                     {"p50_us", t.p50_us},
                     {"p99_us", t.p99_us},
                     {"max_us", t.max_us},
                     {"mean_us", t.mean_us},
                     {"fps", t.fps},
                     {"consumer_cpu_pct", t.consumer_cpu_pct}};
    if (!t.error.empty()) e["error"] = t.error;
    j["results"].push_back(e);
  }
  return j.dump(2);
}

}  // namespace shmyolo::bench
