// shmyolo bench http: concurrent uploads of one JPEG to four detection
// services started side by side, the same load in turns:
//   Flask + Gunicorn, its workers each receiving and decoding their uploads
//   and running OpenCV DNN (src/bench/flask_baseline.py);
//   shmyolo serve on OpenCV DNN (the same engine, model and preprocessing);
//   shmyolo serve on ONNX Runtime;
//   the same with bearer tokens and HTTPS (a P-256 certificate openssl makes),
//   as a service exposed beyond loopback runs: what they cost.
// For each: requests per second, latency p50/p99, errors and peak summed PSS
// of the service's process tree.
#pragma once

#include <string>
#include <vector>

namespace shmyolo::bench {

struct HttpBenchOptions {
  std::string model;  // a YOLOv5-layout .onnx: the baseline decodes that layout
  std::string image;  // resized to width x height; empty: a synthetic frame
  int width = 640;
  int height = 480;
  int workers = 4;           // processes per service
  int threads = 1;           // inference threads per worker
  int concurrency = 8;       // requests in flight
  double seconds = 15;       // of load per service and round
  int rounds = 2;            // services take turns this many times
  std::string baseline_dir;  // folder of flask_baseline.py
  std::string shmyolo_bin;   // this binary
};

struct HttpBenchResult {
  std::string service;
  double requests_per_s = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double peak_pss_mb = 0;
  std::uint64_t ok = 0;
  std::uint64_t errors = 0;  // not 200 (503s included), or no answer
  std::string error;         // the service did not start
};

// Runs the benchmark, printing progress; one result per service.
[[nodiscard]] std::vector<HttpBenchResult> run_http_bench(const HttpBenchOptions& options);
[[nodiscard]] std::string http_report_table(const HttpBenchOptions& options, const std::vector<HttpBenchResult>& r);

}  // namespace shmyolo::bench
