#include "process_stats.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include <fmt/format.h>

namespace shmyolo::bench {

// Every process below `root`, `root` included.
std::vector<pid_t> process_tree(pid_t root) {
  std::map<pid_t, std::vector<pid_t>> children;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(e.path() / "stat");
    std::string line;
    std::getline(stat, line);
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    char state = 0;
    pid_t parent = 0;
    rest >> state >> parent;
    children[parent].push_back(std::stoi(name));
  }
  std::vector<pid_t> tree{root};
  for (std::size_t i = 0; i < tree.size(); ++i) {
    for (const pid_t c : children[tree[i]]) tree.push_back(c);
  }
  return tree;
}

double pss_mb(const std::vector<pid_t>& pids) {
  double kb = 0;
  for (const pid_t p : pids) {
    std::ifstream in("/proc/" + std::to_string(p) + "/smaps_rollup");
    for (std::string key; in >> key;) {
      if (key == "Pss:") {
        double v = 0;
        in >> v;
        kb += v;
        break;
      }
    }
  }
  return kb / 1024;
}

double cpu_seconds_of_children() {
  rusage r{};
  getrusage(RUSAGE_CHILDREN, &r);
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
         static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

double own_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

WatchedExit wait_sampling_memory(pid_t pid) {
  // A sample's CPU time x 50 until the next: the sampler's share stays under 2 %.
  constexpr int kIdlePerBusy = 50;
  constexpr std::chrono::milliseconds kPoll{100};
  WatchedExit w;
  auto next_sample = std::chrono::steady_clock::now();
  while (waitpid(pid, &w.status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() >= next_sample) {
      const double before = own_cpu_ms();
      w.peak_pss_mb = std::max(w.peak_pss_mb, pss_mb(process_tree(pid)));
      next_sample = std::chrono::steady_clock::now() +
                    std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                        std::chrono::duration<double, std::milli>((own_cpu_ms() - before) * kIdlePerBusy));
    }
    std::this_thread::sleep_for(kPoll);
  }
  return w;
}

std::uint64_t sum_over_processes(int processes, const std::function<std::uint64_t(int)>& body) {
  const std::size_t bytes = sizeof(std::uint64_t) * static_cast<std::size_t>(std::max(processes, 1));
  void* mapping = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mapping == MAP_FAILED) return 0;
  auto* counts = static_cast<std::uint64_t*>(mapping);  // zero-filled by mmap
  std::vector<pid_t> pids;
  for (int p = 0; p < processes; ++p) {
    const pid_t pid = fork();
    if (pid == 0) {
      counts[p] = body(p);
      _exit(0);
    }
    pids.push_back(pid);
  }
  for (const pid_t pid : pids) waitpid(pid, nullptr, 0);
  std::uint64_t total = 0;
  for (int p = 0; p < processes; ++p) total += counts[p];
  munmap(mapping, bytes);
  return total;
}

config::CameraConfig bench_camera(int i, const std::string& source, int width, int height) {
  config::CameraConfig cam;
  cam.name = fmt::format("cam{}", i);
  cam.source = source.empty() ? fmt::format("synthetic:?width={}&height={}&seed={}", width, height, 100 + i) : source;
  cam = config::parse_source(cam, std::filesystem::current_path()).value_or(cam);
  cam.delivery = bus::Delivery::queue;
  cam.loop = true;
  return cam;
}

void silence_stderr() {
  std::fflush(stderr);
  const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null < 0) return;
  ::dup2(null, STDERR_FILENO);
  ::close(null);
}

}  // namespace shmyolo::bench
