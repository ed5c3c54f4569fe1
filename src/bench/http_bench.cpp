#include "http_bench.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <shmyolo/ingest/synthetic_camera.hpp>

#include <shmyolo/http/auth.hpp>

#include "process_stats.hpp"
#include "service_process.hpp"

namespace shmyolo::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr double kWarmUpS = 3;  // of load before each measured round
constexpr auto kPssEvery = std::chrono::milliseconds(200);

// `concurrency` clients upload back to back for `seconds`; recorded unless warming up.
void load(Service& s, const std::string& body, int concurrency, double seconds, bool record) {
  const auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::mutex mutex;
  std::vector<std::jthread> clients;
  clients.reserve(static_cast<std::size_t>(concurrency));
  for (int i = 0; i < concurrency; ++i) {
    clients.emplace_back([&] {
      auto c = client_for(s);
      c.set_keep_alive(true);
      std::vector<double> ms;
      std::uint64_t errors = 0;
      while (Clock::now() < until) {
        const auto t0 = Clock::now();
        const auto r = c.Post("/v1/detect", body, "image/jpeg");
        const auto t1 = Clock::now();
        if (r && r->status == 200) {
          ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        } else {
          ++errors;
        }
      }
      if (!record) return;
      const std::lock_guard lock(mutex);
      s.latencies_ms.insert(s.latencies_ms.end(), ms.begin(), ms.end());
      s.ok += ms.size();
      s.errors += errors;
    });
  }
  while (Clock::now() < until) {
    if (record) s.peak_pss_mb = std::max(s.peak_pss_mb, pss_mb(process_tree(s.pid)));
    std::this_thread::sleep_for(kPssEvery);
  }
  clients.clear();
  if (record) s.measured_s += seconds;
}

std::string upload_jpeg(const HttpBenchOptions& o) {
  cv::Mat picture;
  if (o.image.empty()) {
    picture.create(o.height, o.width, CV_8UC3);
    std::vector<ingest::GroundTruth> truth;
    ingest::SyntheticCamera({.width = o.width, .height = o.height, .seed = 7})
        .render(0, picture.data, picture.step, truth);
  } else {
    const cv::Mat read = cv::imread(o.image, cv::IMREAD_COLOR);
    if (read.empty()) return "";
    cv::resize(read, picture, {o.width, o.height}, 0, 0, cv::INTER_AREA);
  }
  std::vector<std::uint8_t> jpeg;
  cv::imencode(".jpg", picture, jpeg, {cv::IMWRITE_JPEG_QUALITY, 90});
  return {jpeg.begin(), jpeg.end()};
}

// shmyolo serve on ONNX Runtime as it is exposed beyond loopback: bearer
// tokens and HTTPS, with a certificate openssl makes for 127.0.0.1. Empty
// argv when openssl cannot.
Service secured_service(const HttpBenchOptions& o, const std::filesystem::path& dir, const std::string& model) {
  Service s;
  s.name = "shmyolo serve, ORT, token+TLS";
  const auto cert = dir / "cert.pem";
  const auto key = dir / "key.pem";
  const std::string make_cert = fmt::format(
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=127.0.0.1 "
      "-addext subjectAltName=IP:127.0.0.1 "
      "-keyout {} -out {} >/dev/null 2>&1",
      key.string(), cert.string());
  if (std::system(make_cert.c_str()) != 0) return s;  // NOLINT(cert-env33-c): a fixed command, paths of our own
  s.token = http::new_token();
  std::ofstream(dir / "tokens") << http::token_line(s.token, "bench", http::Scope::all) << "\n";
  s.ca_file = cert.string();
  const auto config = dir / "secured.yaml";
  std::ofstream(config) << "name: benchtls" << ::getpid() << "\nmodel: {path: " << model
                        << ", engine: ort}\nworkers: {count: " << o.workers << ", threads: " << o.threads
                        << "}\nhttp: {bind: 127.0.0.1, auth: {tokens_file: " << (dir / "tokens").string()
                        << "}, tls: {cert: " << cert.string() << ", key: " << key.string() << "}}\n";
  s.argv = {o.shmyolo_bin, "serve", config.string(), "--port"};
  return s;
}

std::vector<Service> services(const HttpBenchOptions& o, const std::filesystem::path& dir) {
  const auto model = std::filesystem::absolute(o.model).string();
  const auto serve = [&](const std::string& engine) {
    return std::vector<std::string>{o.shmyolo_bin, "serve",
                                    "--model",     model,
                                    "--engine",    engine,
                                    "--workers",   std::to_string(o.workers),
                                    "--threads",   std::to_string(o.threads),
                                    "--bind",      "127.0.0.1",
                                    "--port"};
  };
  std::vector<Service> out(3);
  out[0].name = "Flask + Gunicorn, OpenCV DNN";
  out[0].argv = {"/usr/bin/gunicorn", "--workers", std::to_string(o.workers), "--timeout", "120", "--chdir",
                 o.baseline_dir,      "--bind"};
  out[0].env = {{"BASELINE_MODEL", model}, {"BASELINE_THREADS", std::to_string(o.threads)}};
  out[1].name = "shmyolo serve, OpenCV DNN";
  out[1].argv = serve("opencv");
  out[2].name = "shmyolo serve, ONNX Runtime";
  out[2].argv = serve("ort");
  if (auto secured = secured_service(o, dir, model); !secured.argv.empty()) out.push_back(std::move(secured));
  for (std::size_t i = 0; i < out.size(); ++i) {
    auto& s = out[i];
    s.port = free_port();
    s.log = (dir / fmt::format("service{}.log", i)).string();
    if (i == 0) {
      s.argv.push_back(fmt::format("127.0.0.1:{}", s.port));
      s.argv.emplace_back("flask_baseline:app");
    } else {
      s.argv.push_back(std::to_string(s.port));
    }
  }
  return out;
}

}  // namespace

std::vector<HttpBenchResult> run_http_bench(const HttpBenchOptions& o) {
  const std::string body = upload_jpeg(o);
  if (body.empty()) return {{.service = "all", .error = fmt::format("cannot read {}", o.image)}};
  if (!std::filesystem::exists("/usr/bin/gunicorn") ||
      !std::filesystem::exists(std::filesystem::path(o.baseline_dir) / "flask_baseline.py")) {
    return {{.service = "Flask + Gunicorn",
             .error = "needs Debian's gunicorn, python3-flask and python3-opencv (scripts/install-deps --bench) and "
                      "src/bench/flask_baseline.py (--baseline-dir)"}};
  }
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("shmyolo-bench-http-{}", ::getpid());
  std::filesystem::create_directories(dir);
  auto all = services(o, dir);
  // All three start at once and stay up; idle ones sleep (sync workers in
  // accept, shmyolo workers on a futex), so the one under load has the cores.
  for (auto& s : all) start(s);
  for (auto& s : all) {
    if (!wait_ready(s, body)) stop(s);
    fmt::print("  {:<30} {}\n", s.name, s.error.empty() ? fmt::format("ready on port {}", s.port) : s.error);
    std::fflush(stdout);
  }
  for (int round = 0; round < o.rounds; ++round) {
    for (std::size_t k = 0; k < all.size(); ++k) {
      auto& s = all[(k + static_cast<std::size_t>(round)) % all.size()];  // a rotating order: drift hits all alike
      if (s.pid <= 0) continue;
      load(s, body, o.concurrency, kWarmUpS, false);
      load(s, body, o.concurrency, o.seconds, true);
      fmt::print("  round {}: {:<30} {:.1f} requests/s so far\n", round + 1, s.name,
                 static_cast<double>(s.ok) / s.measured_s);
      std::fflush(stdout);
    }
  }
  std::vector<HttpBenchResult> out;
  for (auto& s : all) {
    stop(s);
    out.push_back({.service = s.name,
                   .requests_per_s = s.measured_s > 0 ? static_cast<double>(s.ok) / s.measured_s : 0,
                   .p50_ms = percentile(s.latencies_ms, 0.5),
                   .p99_ms = percentile(s.latencies_ms, 0.99),
                   .peak_pss_mb = s.peak_pss_mb,
                   .ok = s.ok,
                   .errors = s.errors,
                   .error = s.error});
  }
  std::filesystem::remove_all(dir);
  return out;
}

std::string http_report_table(const HttpBenchOptions& o, const std::vector<HttpBenchResult>& results) {
  std::string t = fmt::format(
      "\n{} concurrent uploads of one {}x{} JPEG, {} workers x {} thread(s) per service, {} x {:.0f} s each\n\n",
      o.concurrency, o.width, o.height, o.workers, o.threads, o.rounds, o.seconds);
  t += fmt::format("| {:<30} | {:>10} | {:>9} | {:>9} | {:>13} | {:>6} |\n", "service", "requests/s", "p50 ms",
                   "p99 ms", "peak PSS (MB)", "errors");
  t += "|--------------------------------|-----------:|----------:|----------:|--------------:|-------:|\n";
  for (const auto& r : results) {
    if (!r.error.empty()) {
      t += fmt::format("| {:<30} | failed: {} |\n", r.service, r.error);
      continue;
    }
    t += fmt::format("| {:<30} | {:>10.2f} | {:>9.1f} | {:>9.1f} | {:>13.0f} | {:>6} |\n", r.service, r.requests_per_s,
                     r.p50_ms, r.p99_ms, r.peak_pss_mb, r.errors);
  }
  if (results.size() >= 3 && results[0].requests_per_s > 0 && results[0].peak_pss_mb > 0) {
    for (std::size_t i = 1; i < 3; ++i) {
      t += fmt::format("\n{} vs Flask + Gunicorn: {:.2f}x the requests/s, {:.2f}x the p50, {:.2f}x the memory",
                       results[i].service, results[i].requests_per_s / results[0].requests_per_s,
                       results[i].p50_ms / std::max(results[0].p50_ms, 1e-9),
                       results[i].peak_pss_mb / results[0].peak_pss_mb);
    }
    t += "\n";
  }
  if (results.size() == 4 && results[2].requests_per_s > 0) {
    t += fmt::format("{} vs without them: {:.3f}x the requests/s, {:.2f}x the p50\n", results[3].service,
                     results[3].requests_per_s / results[2].requests_per_s,
                     results[3].p50_ms / std::max(results[2].p50_ms, 1e-9));
  }
  return t;
}

}  // namespace shmyolo::bench
