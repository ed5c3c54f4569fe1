#include "stats_report.hpp"

#include <shmyolo/stats/scoring.hpp>

namespace shmyolo::pipeline {
namespace {

const char* state_name(std::uint32_t s) {
  switch (static_cast<CameraState>(s)) {
    case CameraState::starting: return "starting";
    case CameraState::running: return "running";
    case CameraState::retrying: return "retrying";
    case CameraState::finished: return "finished";
    case CameraState::stopped: return "stopped";
  }
  return "unknown";
}

double round2(double v) {
  return static_cast<double>(static_cast<std::int64_t>(v * 100 + (v >= 0 ? 0.5 : -0.5))) / 100;
}

nlohmann::json latency(const stats::LatencyHistogram& h) {
  return {{"p50", round2(h.percentile_ms(0.5))}, {"p99", round2(h.percentile_ms(0.99))}};
}

// Frames that never got a result: overwritten or discarded unclaimed, and in
// latest mode also those skipped because every slot was being read. In queue
// mode a refused publish is retried, so it is a wait, not a loss.
std::uint64_t dropped(const bus::FrameRing& ring) {
  const auto& counters = ring.header().counters;
  const std::uint64_t lost = counters.dropped.load(std::memory_order_relaxed);
  if (ring.policy().delivery == bus::Delivery::queue) return lost;
  return lost + counters.rejected.load(std::memory_order_relaxed);
}

}  // namespace

StatsSnapshot StatsReport::snapshot() const {
  StatsSnapshot s;
  s.mono_ns = bus::monotonic_ns();
  for (std::size_t c = 0; c < rings_.size(); ++c) {
    // relaxed: counters, read for display.
    s.frames_in.push_back(rings_[c].header().counters.published.load(std::memory_order_relaxed));
    s.frames_out.push_back(ctx_.status->cameras[c].results.load(std::memory_order_relaxed));
  }
  return s;
}

nlohmann::json StatsReport::camera(std::size_t c, double in_fps, double out_fps) const {
  const CameraStatus& st = ctx_.status->cameras[c];
  const auto& counters = rings_[c].header().counters;
  nlohmann::json j{{"camera", ctx_.config->cameras[c].name},
                   {"state", state_name(st.state.load(std::memory_order_relaxed))},
                   {"fps_in", round2(in_fps)},
                   {"fps_out", round2(out_fps)},
                   {"frames_in", counters.published.load(std::memory_order_relaxed)},
                   {"frames_out", st.results.load(std::memory_order_relaxed)},
                   {"dropped", dropped(rings_[c])},
                   {"detections", st.detections.load(std::memory_order_relaxed)},
                   {"source_errors", st.source_errors.load(std::memory_order_relaxed)},
                   {"restarts", st.restarts.load(std::memory_order_relaxed)},
                   {"latency_ms",
                    {{"end_to_end", latency(st.end_to_end)},
                     {"capture_to_publish", latency(st.capture_to_publish)},
                     {"queue_wait", latency(st.queue_wait)},
                     {"inference", latency(st.inference)},
                     {"postprocess", latency(st.postprocess)}}}};
  if (st.scored.load(std::memory_order_relaxed) != 0) {
    const stats::Tally t{st.true_positives.load(std::memory_order_relaxed),
                         st.false_positives.load(std::memory_order_relaxed),
                         st.false_negatives.load(std::memory_order_relaxed)};
    j["precision"] = round2(t.precision() * 100) / 100;
    j["recall"] = round2(t.recall() * 100) / 100;
  }
  return j;
}

nlohmann::json StatsReport::next() {
  const StatsSnapshot now = snapshot();
  const double dt = std::max(1e-9, static_cast<double>(now.mono_ns - last_.mono_ns) / 1e9);
  nlohmann::json cameras = nlohmann::json::array();
  for (std::size_t c = 0; c < rings_.size(); ++c) {
    cameras.push_back(camera(c, static_cast<double>(now.frames_in[c] - last_.frames_in[c]) / dt,
                             static_cast<double>(now.frames_out[c] - last_.frames_out[c]) / dt));
  }
  last_ = now;
  return {{"pipeline", ctx_.config->name}, {"cameras", cameras}};
}

nlohmann::json StatsReport::final(double elapsed_s) const {
  const StatsSnapshot now = snapshot();
  nlohmann::json cameras = nlohmann::json::array();
  std::uint64_t restarts = 0;
  for (int w = 0; w < ctx_.config->workers.count; ++w) {
    restarts += ctx_.status->workers[static_cast<std::size_t>(w)].restarts.load(std::memory_order_relaxed);
  }
  // All cameras together: merged latency histograms and summed tallies.
  stats::LatencyHistogram end_to_end;
  stats::Tally tally;
  std::uint64_t frames = 0;
  bool scored = false;
  for (std::size_t c = 0; c < rings_.size(); ++c) {
    cameras.push_back(camera(c, static_cast<double>(now.frames_in[c]) / elapsed_s,
                             static_cast<double>(now.frames_out[c]) / elapsed_s));
    const CameraStatus& st = ctx_.status->cameras[c];
    end_to_end.merge(st.end_to_end);
    frames += now.frames_out[c];
    if (st.scored.load(std::memory_order_relaxed) != 0) {
      scored = true;
      tally += {st.true_positives.load(std::memory_order_relaxed), st.false_positives.load(std::memory_order_relaxed),
                st.false_negatives.load(std::memory_order_relaxed)};
    }
  }
  nlohmann::json total{{"frames_out", frames},
                       {"fps_out", round2(static_cast<double>(frames) / elapsed_s)},
                       {"latency_ms", {{"end_to_end", latency(end_to_end)}}}};
  if (scored) {
    total["precision"] = round2(tally.precision() * 100) / 100;
    total["recall"] = round2(tally.recall() * 100) / 100;
  }
  return {{"pipeline", ctx_.config->name},
          {"elapsed_s", round2(elapsed_s)},
          {"worker_restarts", restarts},
          {"total", total},
          {"cameras", cameras}};
}

}  // namespace shmyolo::pipeline
