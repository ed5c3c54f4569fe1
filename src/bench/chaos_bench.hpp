// `shmyolo bench chaos`: a queue-mode pipeline run for minutes while random
// children (workers, cameras' ingest, the aggregator) are SIGKILLed, then
// stopped with SIGTERM; every frame a camera published must have a JSON
// line (duplicates by seq allowed, none missing), the run must exit 0, and
// its shared-memory folder must be empty afterwards. Too long for CI: run
// once and recorded in docs/benchmarks.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

namespace shmyolo::bench {

struct ChaosBenchOptions {
  std::filesystem::path model;
  double seconds = 600;
  int cameras = 3;
  int workers = 2;
  double fps = 10;            // per camera
  double kill_every_s = 2.0;  // mean time between kills (uniform in 0.5x..1.5x)
  // A child is killed only once it has run this long, so the kills test
  // recovery, not the crash-loop bound (5 deaths within 5 s of start).
  double min_age_s = 6;
  std::uint32_t seed = 1;
  std::filesystem::path shm_dir;  // default: a fresh folder in /dev/shm, removed after
};

struct ChaosBenchReport {
  double seconds = 0;
  std::map<std::string, int> kills;  // by kind: worker, camera, aggregator
  std::uint64_t frames_in = 0;       // published, all cameras (from --stats-json)
  std::uint64_t lines = 0;           // JSON lines written
  std::uint64_t unique = 0;          // distinct (camera, seq) among them
  std::uint64_t missing = 0;         // published frames without a line
  std::uint64_t torn = 0;            // lines that do not parse
  int exit_status = -1;
  std::size_t leftovers = 0;  // files left in the shared-memory folder
  std::string log;            // the pipeline's stderr
  std::string error;
  [[nodiscard]] bool passed() const;
};

[[nodiscard]] ChaosBenchReport run_chaos_bench(const ChaosBenchOptions& options);
[[nodiscard]] std::string report_table(const ChaosBenchReport& report);

}  // namespace shmyolo::bench
