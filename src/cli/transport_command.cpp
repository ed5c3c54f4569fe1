// shmyolo bench transport: the frame bus against the usual ways of moving a
// frame between processes (src/bench/transport.hpp), on Linux and Windows.
#include <cstdio>
#include <fstream>
#include <memory>

#include <fmt/format.h>
#include <transport.hpp>

#include "commands.hpp"

namespace shmyolo::cli {

void add_transport_bench_command(CLI::App& bench, int& exit_code) {
  struct Options {
    bench::TransportOptions transport;
    std::string json;
    std::string shm_dir;
  };
  auto opts = std::make_shared<Options>();
  auto* transport = bench.add_subcommand(
      "transport", "Move 1080p frames between two processes over the frame bus and over the alternatives --only names");
  transport->add_option("--frames", opts->transport.latency_frames, "Frames in the paced latency run")
      ->check(CLI::Range(10, 4096));
  transport->add_option("--rate", opts->transport.rate_hz, "Frames per second in the latency run")
      ->check(finite_range(1.0, 1000.0));
  transport->add_option("--throughput-frames", opts->transport.throughput_frames, "Frames sent back to back")
      ->check(CLI::Range(10, 4096));
  transport->add_option("--width", opts->transport.width, "Frame width")->check(CLI::Range(16, 8192));
  transport->add_option("--height", opts->transport.height, "Frame height")->check(CLI::Range(16, 8192));
  transport->add_option("--only", opts->transport.only, "Run only these transports")
      ->check(CLI::IsMember(bench::transport_names()));
  transport->add_option("--disk-dir", opts->transport.disk_dir,
                        "Directory for the file-on-disk transport (default /var/tmp; on Windows the temp folder)");
  transport->add_option("--shm-dir", opts->shm_dir, "Directory for the bus and file-tmpfs transports");
  transport->add_option("--json", opts->json, "Also write the figures as JSON to this file");
  transport->callback([opts, &exit_code] {
    opts->transport.shm_dir = opts->shm_dir;
    fmt::print("shmyolo bench transport: {} paced frames at {} Hz, {} back to back, per transport\n",
               opts->transport.latency_frames, opts->transport.rate_hz, opts->transport.throughput_frames);
    const auto report = bench::run_transport_bench(opts->transport, [](const bench::TransportResult& r) {
      if (r.error.empty()) {
        fmt::print("  {:<11} {:<32} p50 {:>8.1f} us  p99 {:>8.1f} us  {:>7.1f} fps\n", r.transport, r.placement,
                   r.p50_us, r.p99_us, r.fps);
      } else {
        fmt::print("  {:<11} {:<32} failed: {}\n", r.transport, r.placement, r.error);
      }
      std::fflush(stdout);
    });
    fmt::print("\n{}", bench::report_table(report));
    if (!opts->json.empty()) {
      std::ofstream(opts->json) << bench::report_json(report) << '\n';
      fmt::print("wrote {}\n", opts->json);
    }
    bool failed = false;
    for (const auto& r : report.results) failed = failed || !r.error.empty();
    exit_code = failed ? 1 : 0;
  });
}

}  // namespace shmyolo::cli
