// `shmyolo run`: one supervisor process creates and sizes the segments,
// forks an ingest process per camera, a pool of workers and an aggregator,
// restarts a child that crashes (with backoff) and replaces a worker stuck
// on one frame; on SIGINT/SIGTERM or at the end of --duration it stops them
// in order (cameras, then workers once queued frames are done, then the
// aggregator once results are written) and leaves nothing in /dev/shm.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <shmyolo/config/pipeline_config.hpp>

namespace shmyolo::pipeline {

// Which processes this `shmyolo run` starts. One host runs `all`; in
// containers, the ingest container runs `ingest` (it creates and owns the
// segments: cameras, aggregator, statistics) and the inference container runs
// `workers`, which waits for the segments in the shared /dev/shm (or
// --shm-dir), attaches them, and waits again when the ingest side restarts.
enum class RunRole { all, ingest, workers };

struct RunOptions {
  double duration_s = 0;  // 0: until a signal, or until every camera's source has ended
  std::filesystem::path stats_json;
  RunRole role = RunRole::all;
  // --check: the config read, the model loaded and every check made before a
  // start (room for the segments, the port, the output files), then exit
  // without making a segment, a file or a child.
  bool check_only = false;
};

int run_pipeline(const config::PipelineConfig& config, const RunOptions& options);

struct SegmentPlan {
  std::string name;
  std::uint64_t bytes = 0;
};

struct ShmPlan {
  std::filesystem::path dir;
  std::vector<SegmentPlan> segments;
  std::uint64_t total_bytes = 0;
  std::uint64_t recommended_bytes = 0;  // total plus headroom, rounded up to MiB: for --shm-size / sizeLimit
};

// What the config needs in /dev/shm (probes the model for its input size).
// Prints why and returns nothing when the model cannot be opened.
[[nodiscard]] std::optional<ShmPlan> plan_shm(const config::PipelineConfig& config);

}  // namespace shmyolo::pipeline
