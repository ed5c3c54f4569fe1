// shmyolo bench cameras: many cameras on this host's cores, side by side in
// one run. Takes a video (or makes a 1080p30 H.264 clip with a key frame a
// second from the synthetic camera), measures the decoder's own cost on it
// (the floor: every frame, and key frames only) and the bare detector's
// throughput, then runs the pipeline with 1, 4, 8, 16 cameras of that video
// for each way of decoding (FFmpeg: all, key frames, auto; OpenCV) and
// reports results per second, ingest CPU per camera against the floor,
// fairness between cameras, the decoding counters, latency and the
// pipeline's memory.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace shmyolo::bench {

struct CamerasBenchOptions {
  std::filesystem::path model;
  std::vector<int> cameras{1, 4, 8, 16};
  std::string source;  // a video file; empty: a 1080p30 H.264 clip made for the run
  double fps = 15;     // each camera's cap
  bool realtime = false;
  double seconds = 10;  // each pipeline run
  int workers = 2;
  std::filesystem::path json;  // also write every run's figures here
  std::filesystem::path shm_dir;
};

struct CameraWayRun {
  std::string way;         // "ffmpeg all", "ffmpeg keyframes", "ffmpeg auto", "opencv all"
  bool keyframes = false;  // decode: keyframes
  int cameras = 0;
  double results_per_s = 0;
  double target_per_s = 0;           // 0.8 x bare throughput x the CPU share the decoders leave
  double ingest_cpu_pct = 0;         // per camera, of one core
  double ingest_ms_per_decoded = 0;  // a camera's ingest CPU per frame it decoded
  double decoders_share = 0;         // all ingest processes' CPU, of all cores
  double ingest_vs_floor = 0;        // ingest CPU / (the floor x frames decoded); key frames only: the key-frame floor
  double workers_cpu_pct = 0;        // all workers together, of one core
  double fairness = 0;               // the largest |camera - mean| / mean of results per second
  double decoded_per_s = 0;          // per camera
  double skipped_per_s = 0;          // per camera
  double dropped_per_s = 0;          // per camera
  double keyframes_only = 0;         // share of the time on key frames only, per camera
  double latency_p50_ms = 0;
  double latency_p99_ms = 0;
  double pss_mb = 0;
  std::string error;
};

// What the runs are held against, measured in the same invocation.
struct CamerasBenchBaselines {
  double floor_ms = 0;      // the decoder's CPU per frame
  double key_floor_ms = 0;  // ... per key frame, decoding key frames only (passing over the others)
  double key_interval = 0;  // frames of the stream per key frame
  double bare_fps = 0;      // workers x single-threaded detectors, nothing else
  // Key frames only against every frame, the decoder alone.
  [[nodiscard]] double key_share() const {
    return floor_ms > 0 && key_interval > 0 ? key_floor_ms / (key_interval * floor_ms) : 0;
  }
};

struct CamerasBenchReport {
  std::string source;
  CamerasBenchBaselines baselines;  // the quieter of those measured before and after the runs
  std::vector<CameraWayRun> runs;
  std::string error;
};

[[nodiscard]] CamerasBenchReport run_cameras_bench(const CamerasBenchOptions& options);
[[nodiscard]] std::string cameras_table(const CamerasBenchOptions& options, const CamerasBenchReport& report);
[[nodiscard]] std::string cameras_json(const CamerasBenchReport& report);

}  // namespace shmyolo::bench
