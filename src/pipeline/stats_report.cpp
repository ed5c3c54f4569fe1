#include "stats_report.hpp"

#include <cmath>

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

// Rounds to `digits` decimals; dividing the rounded integer by a power of ten
// gives the double nearest that decimal, so JSON shows 0.9385, not
// 0.9384999999999999.
double rounded(double v, int digits) {
  const double scale = std::pow(10.0, digits);
  return std::round(v * scale) / scale;
}
double round2(double v) {
  return rounded(v, 2);
}
double round4(double v) {
  return rounded(v, 4);
}

// null, not 0, when a window saw no frames: nothing was measured.
nlohmann::json latency(const stats::LatencyHistogram& h) {
  if (h.count() == 0) return {{"p50", nullptr}, {"p99", nullptr}};
  return {{"p50", round2(h.percentile_ms(0.5))}, {"p99", round2(h.percentile_ms(0.99))}};
}

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

StatsReport::StatsReport(const Context& ctx, const std::vector<bus::FrameRing>& rings)
    : ctx_(ctx), rings_(rings), last_(snapshot()) {
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
  }
  return s;
}

nlohmann::json StatsReport::camera(std::size_t c, double in_fps, double out_fps,
                                   const StageHistograms& latencies) const {
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
                   {"restarts", st.restarts.load(std::memory_order_relaxed)}};
  for (std::size_t s = 0; s < kStageNames.size(); ++s) j["latency_ms"][kStageNames[s]] = latency(latencies[s]);
  if (st.scored.load(std::memory_order_relaxed) != 0) {
    const stats::Tally t{st.true_positives.load(std::memory_order_relaxed),
                         st.false_positives.load(std::memory_order_relaxed),
                         st.false_negatives.load(std::memory_order_relaxed)};
    j["precision"] = round4(t.precision());
    j["recall"] = round4(t.recall());
  }
  return j;
}

nlohmann::json StatsReport::next() {
  const StatsSnapshot now = snapshot();
  const double dt = std::max(1e-9, static_cast<double>(now.mono_ns - last_.mono_ns) / 1e9);
  nlohmann::json cameras = nlohmann::json::array();
  for (std::size_t c = 0; c < rings_.size(); ++c) {
    cameras.push_back(camera(c, static_cast<double>(now.frames_in[c] - last_.frames_in[c]) / dt,
                             static_cast<double>(now.frames_out[c] - last_.frames_out[c]) / dt, *window(c)));
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
    const CameraStatus& st = ctx_.status->cameras[c];
    cameras.push_back(camera(c, static_cast<double>(now.frames_in[c]) / elapsed_s,
                             static_cast<double>(now.frames_out[c]) / elapsed_s, *copy_of(st)));
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
    total["precision"] = round4(tally.precision());
    total["recall"] = round4(tally.recall());
  }
  return {{"pipeline", ctx_.config->name},
          {"elapsed_s", round2(elapsed_s)},
          {"worker_restarts", restarts},
          {"total", total},
          {"cameras", cameras}};
}

}  // namespace shmyolo::pipeline
