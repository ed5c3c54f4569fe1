// A detection service the HTTP benchmarks start as a child process, load
// with clients, and stop: its command line, port, log and what was measured.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <httplib.h>

#include "quantile.hpp"  // percentile, which the services' benchmarks report by

namespace shmyolo::bench {

struct Service {
  std::string name;
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> env;
  pid_t pid = -1;
  int port = 0;
  std::string log;
  std::vector<double> latencies_ms;
  std::uint64_t ok = 0;
  std::uint64_t errors = 0;
  double measured_s = 0;
  double peak_pss_mb = 0;
  std::string error;
  // Set for a service that wants them: HTTPS against this CA, and a bearer token.
  std::string ca_file;
  std::string token;
};

[[nodiscard]] int free_port();
// Forks and execs s.argv with s.env, output to s.log.
void start(Service& s);
// Until it answers an upload of `body` with 200, exits, or 120 s pass; s.error says which.
[[nodiscard]] bool wait_ready(Service& s, const std::string& body);
// SIGTERM, then SIGKILL after 30 s.
void stop(Service& s);
// A client of the service: HTTPS and a bearer token when it has them; reads wait 60 s.
[[nodiscard]] httplib::Client client_for(const Service& s);

}  // namespace shmyolo::bench
