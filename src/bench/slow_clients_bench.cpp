#include "slow_clients_bench.hpp"

#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include <fmt/format.h>

#include "service_process.hpp"

namespace shmyolo::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kHealthEvery = std::chrono::milliseconds(50);
constexpr auto kDripEvery = std::chrono::seconds(1);  // slowloris' classic pace

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) return fd;
  ::close(fd);
  return -1;
}

// Slow and idle connections, each reopened once the service has closed it.
class Attack {
 public:
  Attack(int port, int slow, int idle) : port_(port), fds_(static_cast<std::size_t>(slow + idle), -1), slow_(slow) {
    thread_ = std::jthread([this](const std::stop_token& stop) { run(stop); });
  }
  ~Attack() {
    thread_.request_stop();
    thread_.join();
    for (const int fd : fds_) {
      if (fd >= 0) ::close(fd);
    }
  }
  Attack(const Attack&) = delete;
  Attack& operator=(const Attack&) = delete;
  // relaxed: a count read once the attack is over.
  [[nodiscard]] std::uint64_t reopened() const { return reopened_.load(std::memory_order_relaxed); }

 private:
  void run(const std::stop_token& stop) {
    while (!stop.stop_requested()) {
      for (std::size_t i = 0; i < fds_.size(); ++i) tend(i, static_cast<int>(i) < slow_);
      const auto until = Clock::now() + kDripEvery;
      while (!stop.stop_requested() && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  void tend(std::size_t i, bool slow) {
    int& fd = fds_[i];
    char c = 0;
    const bool open = fd >= 0 && ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN;
    if (!open) {  // closed by the service (an answer or a hang-up), or never opened
      if (fd >= 0) {
        ::close(fd);
        reopened_.fetch_add(1, std::memory_order_relaxed);
      }
      fd = connect_to(port_);
      if (fd >= 0 && slow) {
        static constexpr std::string_view kStart = "POST /v1/detect HTTP/1.1\r\nHost: x\r\n";
        (void)::send(fd, kStart.data(), kStart.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      }
      return;
    }
    if (slow) (void)::send(fd, "X", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
  }

  int port_;
  std::vector<int> fds_;
  int slow_;
  std::atomic<std::uint64_t> reopened_{0};
  std::jthread thread_;
};

void check_health(const Service& s, Clock::time_point until, SlowClientsPhase& p) {
  while (Clock::now() < until) {
    httplib::Client c("127.0.0.1", s.port);
    c.set_connection_timeout(5, 0);
    c.set_read_timeout(5, 0);
    const auto t0 = Clock::now();
    const auto r = c.Get("/healthz");
    if (r && r->status == 200) {
      p.health_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    } else {
      ++p.health_failed;
    }
    std::this_thread::sleep_for(kHealthEvery);
  }
}

void upload(const Service& s, const std::string& body, Clock::time_point until, SlowClientsPhase& p) {
  while (Clock::now() < until) {
    auto c = client_for(s);
    c.set_connection_timeout(5, 0);
    c.set_read_timeout(30, 0);
    const auto t0 = Clock::now();
    const auto r = c.Post("/v1/detect", body, "image/jpeg");
    if (r && r->status == 200) {
      p.upload_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    } else {
      ++p.upload_failed;
      std::this_thread::sleep_for(kHealthEvery);
    }
  }
}

SlowClientsPhase measure(const Service& s, const std::string& body, const std::string& name, double seconds) {
  SlowClientsPhase p;
  p.name = name;
  p.seconds = seconds;
  const auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::jthread health([&] { check_health(s, until, p); });
  upload(s, body, until, p);
  return p;
}

}  // namespace

SlowClientsReport run_slow_clients_bench(const SlowClientsOptions& o) {
  SlowClientsReport report;
  std::ifstream in(o.image, std::ios::binary);
  const std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (body.empty()) return {.phases = {}, .error = fmt::format("cannot read {}", o.image)};
  // Room for the attack's sockets beside the usual ones.
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
  }
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("shmyolo-bench-slow-{}", ::getpid());
  std::filesystem::create_directories(dir);
  Service s;
  s.name = "shmyolo serve";
  s.port = free_port();
  s.log = (dir / "serve.log").string();
  s.argv = {o.shmyolo_bin, "serve", "--model", std::filesystem::absolute(o.model).string(),
            "--workers",   "2",     "--port",  std::to_string(s.port)};
  start(s);
  if (wait_ready(s, body)) {
    report.phases.push_back(measure(s, body, "quiet", o.seconds));
    const Attack attack(s.port, o.slow, o.idle);
    std::this_thread::sleep_for(2 * kDripEvery);  // every attacking connection open and waiting
    auto attacked = measure(s, body, fmt::format("{} slow + {} idle connections", o.slow, o.idle), o.seconds);
    attacked.reopened = attack.reopened();
    report.phases.push_back(std::move(attacked));
  } else {
    report.error = s.error;
  }
  stop(s);
  std::filesystem::remove_all(dir);
  return report;
}

std::string slow_clients_table(const SlowClientsOptions& o, const SlowClientsReport& r) {
  if (!r.error.empty()) return fmt::format("shmyolo serve failed: {}\n", r.error);
  std::string t = fmt::format("\n{}: /healthz every 50 ms and one client uploading back to back, {:.0f} s each\n\n",
                              std::filesystem::path(o.model).filename().string(), o.seconds);
  t += "| phase | /healthz p50 ms | p99 ms | max ms | failed | uploads/s | upload p50 ms | failed | reopened |\n";
  t += "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& p : r.phases) {
    const double max = p.health_ms.empty() ? 0 : percentile(p.health_ms, 1.0);
    t += fmt::format("| {} | {:.1f} | {:.1f} | {:.1f} | {} | {:.1f} | {:.1f} | {} | {} |\n", p.name,
                     percentile(p.health_ms, 0.5), percentile(p.health_ms, 0.99), max, p.health_failed,
                     static_cast<double>(p.upload_ms.size()) / p.seconds, percentile(p.upload_ms, 0.5), p.upload_failed,
                     p.reopened);
  }
  return t;
}

}  // namespace shmyolo::bench
