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
#include <filesystem>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <shmyolo/ingest/synthetic_camera.hpp>

#include "process_stats.hpp"

namespace shmyolo::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kStartTimeout = std::chrono::seconds(120);  // model loads, Python imports
constexpr double kWarmUpS = 3;                             // of load before each measured round
constexpr auto kPssEvery = std::chrono::milliseconds(200);

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
};

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

void start(Service& s) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int out = ::open(s.log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out >= 0) {
      ::dup2(out, STDOUT_FILENO);
      ::dup2(out, STDERR_FILENO);
    }
    for (const auto& [k, v] : s.env) ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> argv;
    argv.reserve(s.argv.size() + 1);
    for (auto& a : s.argv) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::fprintf(stderr, "cannot run %s: %s\n", argv[0], std::strerror(errno));
    ::_exit(127);
  }
  s.pid = pid;
}

std::string tail_of(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return "";
  std::string text;
  char buf[4096];
  for (std::size_t n = 0; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
  std::fclose(f);
  return text.size() > 600 ? text.substr(text.size() - 600) : text;
}

// Until the service answers an upload with 200, or it exits, or time is up.
bool wait_ready(Service& s, const std::string& body) {
  const auto until = Clock::now() + kStartTimeout;
  while (Clock::now() < until) {
    int status = 0;
    if (::waitpid(s.pid, &status, WNOHANG) == s.pid) {
      s.pid = -1;
      s.error = fmt::format("exited at start: {}", tail_of(s.log));
      return false;
    }
    httplib::Client c("127.0.0.1", s.port);
    c.set_read_timeout(60, 0);
    if (const auto r = c.Post("/v1/detect", body, "image/jpeg"); r && r->status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  s.error = fmt::format("did not answer within {} s: {}", kStartTimeout.count(), tail_of(s.log));
  return false;
}

void stop(Service& s) {
  if (s.pid <= 0) return;
  ::kill(s.pid, SIGTERM);
  const auto until = Clock::now() + std::chrono::seconds(30);
  int status = 0;
  while (::waitpid(s.pid, &status, WNOHANG) == 0) {
    if (Clock::now() > until) {
      ::kill(s.pid, SIGKILL);
      (void)::waitpid(s.pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  s.pid = -1;
}

// `concurrency` clients upload back to back for `seconds`; recorded unless warming up.
void load(Service& s, const std::string& body, int concurrency, double seconds, bool record) {
  const auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::mutex mutex;
  std::vector<std::jthread> clients;
  clients.reserve(static_cast<std::size_t>(concurrency));
  for (int i = 0; i < concurrency; ++i) {
    clients.emplace_back([&] {
      httplib::Client c("127.0.0.1", s.port);
      c.set_read_timeout(60, 0);
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

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
  std::ranges::nth_element(v, v.begin() + static_cast<std::ptrdiff_t>(k));
  return v[k];
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
  if (results.size() == 3 && results[0].requests_per_s > 0 && results[0].peak_pss_mb > 0) {
    for (std::size_t i = 1; i < 3; ++i) {
      t += fmt::format("\n{} vs Flask + Gunicorn: {:.2f}x the requests/s, {:.2f}x the p50, {:.2f}x the memory",
                       results[i].service, results[i].requests_per_s / results[0].requests_per_s,
                       results[i].p50_ms / std::max(results[0].p50_ms, 1e-9),
                       results[i].peak_pss_mb / results[0].peak_pss_mb);
    }
    t += "\n";
  }
  return t;
}

}  // namespace shmyolo::bench
