// Per-camera statistics as JSON, from the rings' counters and the shared
// status: what the supervisor prints, the aggregator publishes to MQTT and
// `shmyolo run --stats-json` writes at the end.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>
#include <shmyolo/bus/ring.hpp>

#include "context.hpp"
#include "statistics.hpp"

namespace shmyolo::pipeline {

struct StatsSnapshot {
  std::vector<std::uint64_t> frames_in;   // published, per camera
  std::vector<std::uint64_t> frames_out;  // results, per camera
  std::vector<std::uint64_t> decoded;     // per camera
  std::vector<std::uint64_t> ingest_cpu_ns;
  std::vector<std::uint64_t> worker_cpu_ns;  // per worker seat
  std::uint64_t aggregator_cpu_ns = 0;
  std::uint64_t mono_ns = 0;
};

// One camera's five stage histograms, in the order of kStageNames.
using StageHistograms = std::array<stats::LatencyHistogram, 5>;

class StatsReport {
 public:
  StatsReport(const Context& ctx, const std::vector<bus::FrameRing>& rings);

  // Rates and latencies are over the time since the previous call (or since
  // the start), so a slow start-up does not mask what happens now; precision
  // and recall are since the start, as a window holds too few objects.
  nlohmann::json next();
  // Totals and rates over the whole run, for --stats-json; ready_s: when
  // every worker was first ready (the cameras' start), if it came.
  [[nodiscard]] nlohmann::json final(double elapsed_s, std::optional<double> ready_s) const;

 private:
  [[nodiscard]] StatsSnapshot snapshot() const;
  [[nodiscard]] CameraCounts counts(std::size_t c) const;
  // Rates over `dt` seconds between two snapshots.
  [[nodiscard]] static nlohmann::json camera(std::size_t c, const CameraCounts& counts, const StatsSnapshot& now,
                                             const StatsSnapshot& then, double dt, const StageHistograms& latencies);
  // Each worker's and the aggregator's CPU % between two snapshots.
  [[nodiscard]] static nlohmann::json process_cpu(const StatsSnapshot& now, const StatsSnapshot& then, double dt);
  // The samples recorded since the previous call, per stage.
  [[nodiscard]] std::unique_ptr<StageHistograms> window(std::size_t c);

  const Context& ctx_;
  const std::vector<bus::FrameRing>& rings_;
  StatsSnapshot last_;
  StatsSnapshot start_;  // counters at 0: the whole run's rates (final)
  // What each camera's histograms held at the previous call.
  std::vector<std::unique_ptr<StageHistograms>> seen_;
};

}  // namespace shmyolo::pipeline
