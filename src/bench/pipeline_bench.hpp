// `shmyolo bench pipeline`: C cameras x W workers through the real pipeline
// for a fixed number of frames, against the bare detector on the same cores:
// throughput and its ratio, end-to-end latency, CPU and total memory (PSS).
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>
#include <shmyolo/config/pipeline_config.hpp>

namespace shmyolo::bench {

struct PipelineBenchOptions {
  std::filesystem::path model;
  std::string source;  // a video file; empty: synthetic cameras
  int cameras = 2;
  int workers = 2;
  int frames = 200;  // per camera
  int width = 1280;  // synthetic cameras' frame size
  int height = 720;
  std::filesystem::path shm_dir;
};

struct PipelineBenchReport {
  int cameras = 0;
  int workers = 0;
  int frames = 0;  // results received, all cameras
  double seconds = 0;
  double pipeline_fps = 0;
  double bare_fps = 0;              // W single-threaded detectors on letterboxed frames, nothing else
  double bare_with_ingest_fps = 0;  // the same plus decoding and letterboxing each frame in-process
  double latency_p50_ms = 0;
  double latency_p99_ms = 0;
  double cpu_pct = 0;  // CPU time / wall time / cores
  double pss_mb = 0;   // peak of the summed PSS of every pipeline process
  std::string error;
};

[[nodiscard]] PipelineBenchReport run_pipeline_bench(const PipelineBenchOptions& options);
// o.workers single-threaded detectors side by side, each in a child process,
// on letterboxed frames of o.source (or synthetic ones) for 10 s; with
// `ingest`, each frame decoded and letterboxed first in the same process.
// Results per second, all together. No engine may be open in the caller.
[[nodiscard]] double bare_fps(const PipelineBenchOptions& o, bool ingest);

// `shmyolo run` of `config` in a child process (stderr silenced) for
// `duration_s` (0: until its sources end): its final statistics
// (--stats-json; null when it failed) and the peak of its processes'
// summed PSS. No engine may be open in the caller.
struct PipelineChildRun {
  nlohmann::json stats;
  double peak_pss_mb = 0;
};
[[nodiscard]] PipelineChildRun run_pipeline_child(const config::PipelineConfig& config, double duration_s = 0);
[[nodiscard]] std::string report_table(const PipelineBenchReport& report);
[[nodiscard]] std::string report_json(const PipelineBenchReport& report);

}  // namespace shmyolo::bench
