// `shmyolo bench transport`: one frame from a producer process to a consumer
// process, over the frame bus and over the usual alternatives, side by side.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace shmyolo::bench {

struct TransportOptions {
  std::uint32_t width = 1920;
  std::uint32_t height = 1080;
  int latency_frames = 200;        // paced, so latency measures the path, not a backlog
  double rate_hz = 50.0;           // pace of the latency run
  int throughput_frames = 120;     // sent back to back
  std::filesystem::path disk_dir;  // empty: /var/tmp (not a tmpfs); on Windows, the temp folder
  std::filesystem::path shm_dir;   // empty: the bus default
  std::vector<std::string> only;   // empty: every transport
};

struct TransportResult {
  std::string transport;
  std::string placement;  // "unpinned", "pinned apart (cpu0 -> cpu1)", "spin"
  int copies = 0;         // copies of the frame between producer and consumer
  double p50_us = 0;
  double p99_us = 0;
  double max_us = 0;
  double mean_us = 0;
  double fps = 0;               // back-to-back throughput
  double consumer_cpu_pct = 0;  // during the paced run: ~0 when it sleeps
  std::string error;            // non-empty when the transport could not run
};

struct TransportReport {
  std::uint64_t frame_bytes = 0;
  double memcpy_us = 0;
  int cpus = 0;
  std::vector<TransportResult> results;
};

[[nodiscard]] std::vector<std::string> transport_names();
[[nodiscard]] TransportReport run_transport_bench(const TransportOptions& options,
                                                  const std::function<void(const TransportResult&)>& progress);
[[nodiscard]] std::string report_table(const TransportReport& report);
[[nodiscard]] std::string report_json(const TransportReport& report);

// Windows: one side of a run, started by run_transport_bench as
// `shmyolo bench transport-child ROLE TRANSPORT TOKEN FRAMES RATE WIDTH HEIGHT DIR`.
[[nodiscard]] int run_transport_child(const std::vector<std::string>& args);

}  // namespace shmyolo::bench
