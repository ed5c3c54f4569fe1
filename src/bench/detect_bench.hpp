// `shmyolo bench detect`: load time, per-stage times at 1 and 2 threads, and
// the throughput of N single-threaded detectors in N processes.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <shmyolo/detect/model.hpp>

namespace shmyolo::bench {

struct DetectBenchOptions {
  detect::ModelOptions model;
  std::filesystem::path image;  // empty: a synthetic 1920x1080 frame
  int runs = 30;
  int processes = 2;
  double process_seconds = 10;
  std::vector<int> threads{1, 2};
};

struct StageStats {
  double median_ms = 0;
  double p90_ms = 0;
};

struct ThreadRun {
  int threads = 0;
  StageStats preprocess;
  StageStats inference;
  StageStats postprocess;
  double overhead_pct = 0;  // (preprocess + postprocess) / inference, medians
};

struct DetectBenchReport {
  std::string model;
  std::string engine;
  int input_width = 0;
  int input_height = 0;
  int image_width = 0;
  int image_height = 0;
  double load_ms = 0;
  std::vector<ThreadRun> runs;
  int processes = 0;
  double processes_fps = 0;  // all processes together
  double single_process_fps = 0;
  std::string error;
};

[[nodiscard]] DetectBenchReport run_detect_bench(const DetectBenchOptions& options);
[[nodiscard]] std::string report_table(const DetectBenchReport& report);
[[nodiscard]] std::string report_json(const DetectBenchReport& report);

}  // namespace shmyolo::bench
