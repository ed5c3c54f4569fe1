// `shmyolo bench transport-e2e`: the same cameras, frames, model and process
// counts through two architectures — file I/O (JPEG and raw BGR spool files)
// and shmyolo's shared-memory pipeline — first at a fixed rate the machine
// sustains (latency), then unpaced (throughput). Per architecture: end-to-end
// latency (mean ± sd, p50, p99), time outside inference, summed PSS, CPU.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "file_transport.hpp"

namespace shmyolo::bench {

struct TransportE2eOptions {
  std::filesystem::path model;
  std::string source;  // a video file; empty: synthetic cameras at width x height
  int width = 1920;
  int height = 1080;
  int cameras = 2;
  int workers = 2;
  int threads = 1;             // inference threads per worker
  double fps = 0;              // per camera, in the paced run; 0: chosen from the calibration (kAutoLoad)
  int frames = 120;            // per camera, in the paced run
  int full_speed_frames = 60;  // per camera, in the unpaced run (0: skip it)
  int rounds = 3;              // frames are split into rounds; each round runs every architecture, in rotating order
  std::uint32_t slots = 4;     // frames of one camera waiting at once, in either architecture
  std::filesystem::path spool_dir;  // where the spool folder goes (default: the temp directory)
  std::filesystem::path shm_dir;
};

struct LatencySummary {
  std::size_t frames = 0;
  double mean_ms = 0;
  double sd_ms = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  // Mean of end-to-end minus the model's work (inference, output decoding,
  // NMS): transport, image decoding, letterbox and queueing.
  double outside_inference_ms = 0;
  double fps = 0;      // frames / (last done - first capture)
  double cpu_pct = 0;  // CPU time / wall time / cores
  double peak_pss_mb = 0;
  double peak_spool_mb = 0;
};

struct ArchitectureResult {
  std::string name;  // "file I/O, JPEG", ...
  LatencySummary paced;
  LatencySummary full_speed;
  std::vector<double> paced_latencies_ms;
  std::string error;
};

// The paced run's default load: the heaviest architecture keeps this share
// of the cores (and of the workers) busy, so latency measures the path and
// not a backlog.
constexpr double kAutoLoad = 0.5;

// Per-frame costs measured before the runs (medians, ms).
struct Calibration {
  double frame_ms = 0;     // the camera producing one frame (drawing or decoding it)
  double jpeg_ms = 0;      // encoding it as JPEG and decoding it again
  double detector_ms = 0;  // one worker's detector on it
};

struct TransportE2eReport {
  TransportE2eOptions options;  // with the paced rate filled in
  Calibration calibration;
  std::vector<ArchitectureResult> architectures;  // file JPEG, file raw, shared memory
  std::string error;
};

[[nodiscard]] TransportE2eReport run_transport_e2e(const TransportE2eOptions& options);
[[nodiscard]] std::string report_table(const TransportE2eReport& report);
[[nodiscard]] std::string report_json(const TransportE2eReport& report);
// The paced runs' latency distributions as a PNG.
bool write_plot(const TransportE2eReport& report, const std::filesystem::path& png);

}  // namespace shmyolo::bench
