// shmyolo bench slow-clients: what slow and idle connections do to a running
// `shmyolo serve`. The same measurement twice in one run, quiet and under
// attack: a health check every 50 ms (a new connection each, 5 s timeout)
// and one client uploading back to back. The attack keeps `slow`
// connections sending a request head a byte a second (slowloris) and `idle`
// connections that send nothing, reopening each one the service closes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace shmyolo::bench {

struct SlowClientsOptions {
  std::string model;
  std::string image;  // uploaded as it is
  int slow = 200;
  int idle = 200;
  double seconds = 10;      // of each phase
  std::string shmyolo_bin;  // this binary
};

struct SlowClientsPhase {
  std::string name;
  std::vector<double> health_ms;
  std::uint64_t health_failed = 0;  // no answer, or not 200
  std::vector<double> upload_ms;
  std::uint64_t upload_failed = 0;
  double seconds = 0;
  std::uint64_t reopened = 0;  // attacking connections the service closed, opened again
};

struct SlowClientsReport {
  std::vector<SlowClientsPhase> phases;
  std::string error;  // the service did not start
};

[[nodiscard]] SlowClientsReport run_slow_clients_bench(const SlowClientsOptions& options);
[[nodiscard]] std::string slow_clients_table(const SlowClientsOptions& options, const SlowClientsReport& report);

}  // namespace shmyolo::bench
