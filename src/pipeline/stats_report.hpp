// Per-camera statistics as JSON, from the rings' counters and the shared
// status: what the supervisor prints, the aggregator publishes to MQTT and
// `shmyolo run --stats-json` writes at the end.
#pragma once

#include <vector>

#include <nlohmann/json.hpp>
#include <shmyolo/bus/ring.hpp>

#include "context.hpp"

namespace shmyolo::pipeline {

struct StatsSnapshot {
  std::vector<std::uint64_t> frames_in;   // published, per camera
  std::vector<std::uint64_t> frames_out;  // results, per camera
  std::uint64_t mono_ns = 0;
};

class StatsReport {
 public:
  StatsReport(const Context& ctx, const std::vector<bus::FrameRing>& rings)
      : ctx_(ctx), rings_(rings), last_(snapshot()) {}

  // Rates are over the time since the previous call (or since the start).
  nlohmann::json next();
  // Totals and rates over the whole run, for --stats-json.
  [[nodiscard]] nlohmann::json final(double elapsed_s) const;

 private:
  [[nodiscard]] StatsSnapshot snapshot() const;
  [[nodiscard]] nlohmann::json camera(std::size_t c, double in_fps, double out_fps) const;

  const Context& ctx_;
  const std::vector<bus::FrameRing>& rings_;
  StatsSnapshot last_;
};

}  // namespace shmyolo::pipeline
