#include "stats_report.hpp"

#include <optional>

#include <shmyolo/stats/scoring.hpp>

#include "statistics.hpp"

namespace shmyolo::pipeline {
namespace {

constexpr std::array<const char*, 5> kStageNames{"end_to_end", "capture_to_publish", "queue_wait", "inference",
                                                 "postprocess"};

std::array<const stats::LatencyHistogram*, 5> stages(const CameraStatus& st) {
  return {&st.end_to_end, &st.capture_to_publish, &st.queue_wait, &st.inference, &st.postprocess};
}

// A copy of a camera's histograms (they are atomics, so copied by merging).
std::unique_ptr<StageHistograms> copy_of(const CameraStatus& st) {
  auto copy = std::make_unique<StageHistograms>();
  const auto live = stages(st);
  for (std::size_t s = 0; s < live.size(); ++s) (*copy)[s].merge(*live[s]);
  return copy;
}

// Per second over dt; a counter that went back (a scribbled ring's, before
// it is recreated) gives 0, not 2^64.
double rate(std::uint64_t now_n, std::uint64_t then_n, double dt) {
  return now_n >= then_n ? static_cast<double>(now_n - then_n) / dt : 0.0;
}

// The same cameras and workers with every counter at 0.
StatsSnapshot zero(const StatsSnapshot& like) {
  StatsSnapshot z;
  z.frames_in.assign(like.frames_in.size(), 0);
  z.frames_out.assign(like.frames_out.size(), 0);
  z.decoded.assign(like.decoded.size(), 0);
  z.ingest_cpu_ns.assign(like.ingest_cpu_ns.size(), 0);
  z.worker_cpu_ns.assign(like.worker_cpu_ns.size(), 0);
  z.mono_ns = like.mono_ns;
  return z;
}

}  // namespace

StatsReport::StatsReport(const Context& ctx, const std::vector<bus::FrameRing>& rings)
    : ctx_(ctx), rings_(rings), last_(snapshot()), start_(zero(last_)) {
  seen_.reserve(rings_.size());
  for (std::size_t c = 0; c < rings_.size(); ++c) seen_.push_back(copy_of(ctx_.status->cameras[c]));
}

std::unique_ptr<StageHistograms> StatsReport::window(std::size_t c) {
  auto now = copy_of(ctx_.status->cameras[c]);
  auto recent = std::make_unique<StageHistograms>();
  for (std::size_t s = 0; s < recent->size(); ++s) {
    (*recent)[s].merge((*now)[s]);
    (*recent)[s].subtract((*seen_[c])[s]);
  }
  seen_[c] = std::move(now);
  return recent;
}

StatsSnapshot StatsReport::snapshot() const {
  StatsSnapshot s;
  s.mono_ns = bus::monotonic_ns();
  for (std::size_t c = 0; c < rings_.size(); ++c) {
    // relaxed: counters, read for display.
    s.frames_in.push_back(rings_[c].header().counters.published.load(std::memory_order_relaxed));
    s.frames_out.push_back(ctx_.status->cameras[c].results.load(std::memory_order_relaxed));
    s.decoded.push_back(ctx_.status->cameras[c].frames_read.load(std::memory_order_relaxed));
    s.ingest_cpu_ns.push_back(ctx_.status->cameras[c].cpu_ns.load(std::memory_order_relaxed));
  }
  for (int w = 0; w < ctx_.config->workers.count; ++w) {
    s.worker_cpu_ns.push_back(ctx_.status->workers[static_cast<std::size_t>(w)].cpu_ns.load(std::memory_order_relaxed));
  }
  s.aggregator_cpu_ns = ctx_.status->aggregator_cpu_ns.load(std::memory_order_relaxed);
  return s;
}

CameraCounts StatsReport::counts(std::size_t c) const {
  return camera_counts(ctx_.config->cameras[c].name, rings_[c], ctx_.status->cameras[c]);
}

nlohmann::json StatsReport::camera(std::size_t c, const CameraCounts& counts, const StatsSnapshot& now,
                                   const StatsSnapshot& then, double dt, const StageHistograms& latencies) {
  nlohmann::json j = counts_json(counts);
  j["fps_decoded"] = round_to(rate(now.decoded[c], then.decoded[c], dt), 2);
  j["fps_in"] = round_to(rate(now.frames_in[c], then.frames_in[c], dt), 2);
  j["fps_out"] = round_to(rate(now.frames_out[c], then.frames_out[c], dt), 2);
  j["cpu_percent"] = round_to(rate(now.ingest_cpu_ns[c], then.ingest_cpu_ns[c], dt) / 1e7, 1);
  for (std::size_t s = 0; s < kStageNames.size(); ++s) j["latency_ms"][kStageNames[s]] = percentiles_json(latencies[s]);
  return j;
}

nlohmann::json StatsReport::process_cpu(const StatsSnapshot& now, const StatsSnapshot& then, double dt) {
  nlohmann::json workers = nlohmann::json::array();
  for (std::size_t w = 0; w < now.worker_cpu_ns.size(); ++w) {
    workers.push_back(round_to(rate(now.worker_cpu_ns[w], then.worker_cpu_ns[w], dt) / 1e7, 1));
  }
  return {{"workers", workers},
          {"aggregator", round_to(rate(now.aggregator_cpu_ns, then.aggregator_cpu_ns, dt) / 1e7, 1)}};
}

nlohmann::json StatsReport::next() {
  const StatsSnapshot now = snapshot();
  const double dt = std::max(1e-9, static_cast<double>(now.mono_ns - last_.mono_ns) / 1e9);
  nlohmann::json cameras = nlohmann::json::array();
  for (std::size_t c = 0; c < rings_.size(); ++c) cameras.push_back(camera(c, counts(c), now, last_, dt, *window(c)));
  nlohmann::json cpu = process_cpu(now, last_, dt);
  last_ = now;
  return {{"pipeline", ctx_.config->name}, {"cameras", cameras}, {"cpu_percent", cpu}};
}

nlohmann::json StatsReport::final(double elapsed_s, std::optional<double> ready_s) const {
  const StatsSnapshot now = snapshot();
  nlohmann::json cameras = nlohmann::json::array();
  std::uint64_t restarts = 0;
  for (int w = 0; w < ctx_.config->workers.count; ++w) {
    restarts += ctx_.status->workers[static_cast<std::size_t>(w)].restarts.load(std::memory_order_relaxed);
  }
  // All cameras together: merged latency histograms and summed tallies.
  stats::LatencyHistogram end_to_end;
  std::optional<stats::Tally> tally;
  std::optional<stats::TrackingTally> tracking;
  std::uint64_t frames = 0;
  for (std::size_t c = 0; c < rings_.size(); ++c) {
    const CameraStatus& st = ctx_.status->cameras[c];
    const CameraCounts camera_now = counts(c);
    cameras.push_back(camera(c, camera_now, now, start_, std::max(elapsed_s, 1e-9), *copy_of(st)));
    end_to_end.merge(st.end_to_end);
    frames += now.frames_out[c];
    if (camera_now.scored) {
      if (!tally) tally.emplace();
      *tally += *camera_now.scored;
    }
    if (camera_now.tracking) {
      if (!tracking) tracking.emplace();
      *tracking += *camera_now.tracking;
    }
  }
  nlohmann::json total{{"frames_out", frames},
                       {"fps_out", round_to(static_cast<double>(frames) / elapsed_s, 2)},
                       {"latency_ms", {{"end_to_end", percentiles_json(end_to_end)}}}};
  if (tally) {
    total["precision"] = round_to(tally->precision(), 4);
    total["recall"] = round_to(tally->recall(), 4);
  }
  if (tracking) tracking_json(*tracking, total);
  return {{"pipeline", ctx_.config->name},
          {"elapsed_s", round_to(elapsed_s, 2)},
          {"workers_ready_s", ready_s ? nlohmann::json(round_to(*ready_s, 2)) : nlohmann::json()},
          {"worker_restarts", restarts},
          {"total", total},
          {"cpu_percent", process_cpu(now, start_, std::max(elapsed_s, 1e-9))},
          {"cameras", cameras}};
}

}  // namespace shmyolo::pipeline
