// Every ring of a pipeline, computed once from the config and the model:
// its name (how every process finds it), geometry and policy. The owner
// creates them from this, `--role workers` attaches them by these names, and
// the shared-memory plan sizes them, so the three can never disagree.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <shmyolo/bus/ring.hpp>
#include <shmyolo/config/pipeline_config.hpp>
#include <shmyolo/pipeline/supervisor.hpp>

#include "context.hpp"

namespace shmyolo::pipeline {

inline constexpr std::uint32_t kResultSlots = 8;  // per worker: results in flight to the aggregator

struct RingLayout {
  std::filesystem::path dir;
  std::vector<bus::RingOptions> cameras;    // config order
  std::vector<bus::RingOptions> results;    // one per worker
  std::optional<bus::RingOptions> uploads;  // with http: only
  bus::RingOptions feed;                    // the detections feed (include/shmyolo/pipeline/feed.hpp)
  bus::RingOptions status;

  // Every ring, cameras first and the status segment last.
  [[nodiscard]] std::vector<bus::RingOptions> all() const;
};

[[nodiscard]] std::filesystem::path shm_dir_of(const config::PipelineConfig& config);

[[nodiscard]] RingLayout ring_layout(const config::PipelineConfig& config, const ModelFacts& model);

// Uploads waiting or in work at once (http.queue; 0: 2 per worker): the
// HTTP front answers 503 past it.
[[nodiscard]] std::size_t upload_queue(const config::PipelineConfig& config);

// The names children find the rings by, into their context.
void name_rings(Context& ctx, const RingLayout& layout);

// Each segment's size in the layout's folder, and the total; prints why and
// returns nothing when a ring's options are invalid.
[[nodiscard]] std::optional<ShmPlan> plan_for(const RingLayout& layout);

}  // namespace shmyolo::pipeline
