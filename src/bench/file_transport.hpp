// The file-I/O architecture that `shmyolo bench transport-e2e` measures
// shmyolo against: the common "write each frame to a spool directory, let
// the inference processes pick the files up" set-up. Camera processes encode
// every frame (JPEG, or raw BGR) and write it with write-then-rename; worker
// processes learn of new files through inotify, claim one by renaming it into
// their own folder, read and decode it, run the detector (which letterboxes)
// and delete it. Same sources, model and process counts as the pipeline.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <shmyolo/config/pipeline_config.hpp>

namespace shmyolo::bench {

enum class SpoolFormat { jpeg, raw_bgr };

// One frame's path, the same for either architecture.
struct FrameTiming {
  std::uint64_t index = 0;       // the camera's frame number
  std::uint64_t capture_ns = 0;  // CLOCK_MONOTONIC, as the pipeline stamps it
  std::uint64_t done_ns = 0;     // detections ready in the worker
  float model_ms = 0;            // the engine's run plus decoding its output and NMS
};

// One architecture's run: every frame's timing plus what its processes cost.
struct ArchitectureRun {
  std::vector<FrameTiming> frames;
  double wall_s = 0;  // first process started to last one gone
  double cpu_s = 0;   // user + system time of all its processes
  double peak_pss_mb = 0;
  std::uint64_t peak_spool_bytes = 0;  // files waiting at once (file I/O only)
  std::string error;
};

struct FileTransportOptions {
  config::PipelineConfig config;  // cameras (sources, fps, frames, slots), model, workers
  SpoolFormat format = SpoolFormat::jpeg;
  std::filesystem::path spool;  // an empty directory
};

// Runs the file-I/O architecture until every camera's frames are processed.
[[nodiscard]] ArchitectureRun run_file_transport(const FileTransportOptions& options);

}  // namespace shmyolo::bench
