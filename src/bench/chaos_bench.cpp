#include "chaos_bench.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <shmyolo/pipeline/supervisor.hpp>

#include "process_stats.hpp"

namespace shmyolo::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kStopLimit = std::chrono::seconds(120);  // the drain at stop may take up to 60 s

std::vector<pid_t> children_of(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/task/{}/children", pid, pid));
  std::vector<pid_t> out;
  for (pid_t c = 0; in >> c;) out.push_back(c);
  return out;
}

std::string comm_of(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/comm", pid));
  std::string name;
  std::getline(in, name);
  return name;
}

// Seconds since the process started (/proc/PID/stat field 22, in clock ticks since boot).
double age_of(pid_t pid) {
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string text((std::istreambuf_iterator<char>(stat)), {});
  const auto paren = text.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream fields(text.substr(paren + 2));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
  }
  double uptime = 0;
  std::ifstream("/proc/uptime") >> uptime;
  return uptime - std::stod(field) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// "worker", "aggregator" or "camera", from the process titles the supervisor sets.
std::string kind_of(const std::string& comm) {
  if (comm.starts_with("shmyolo-worker")) return "worker";
  if (comm.starts_with("shmyolo-aggrega")) return "aggregator";
  return "camera";
}

config::PipelineConfig chaos_config(const ChaosBenchOptions& o, const std::filesystem::path& dir,
                                    const std::filesystem::path& shm) {
  config::PipelineConfig c;
  c.name = fmt::format("chaos{}", getpid());
  c.shm_dir = shm;
  c.model.options.path = o.model;
  c.workers.count = o.workers;
  c.outputs.jsonl = (dir / "detections.jsonl").string();
  c.outputs.stats_interval_s = 3600;  // quiet: the log keeps what the supervisor says
  for (int i = 0; i < o.cameras; ++i) {
    config::CameraConfig cam = bench_camera(i, "", 640, 480);
    cam.fps = o.fps;
    c.cameras.push_back(cam);
  }
  return c;
}

// SIGKILLs a random child old enough; returns its kind, or nothing when none is.
std::optional<std::string> kill_one(pid_t supervisor, double min_age_s, std::mt19937& rng) {
  std::vector<pid_t> old_enough;
  for (const pid_t c : children_of(supervisor)) {
    if (age_of(c) >= min_age_s) old_enough.push_back(c);
  }
  if (old_enough.empty()) return std::nullopt;
  const pid_t victim = old_enough[std::uniform_int_distribution<std::size_t>(0, old_enough.size() - 1)(rng)];
  const std::string kind = kind_of(comm_of(victim));
  if (::kill(victim, SIGKILL) != 0) return std::nullopt;
  return kind;
}

// Every published frame of each camera must have a line: seq 0..frames_in-1.
void check_lines(const std::filesystem::path& jsonl, const nlohmann::json& stats, ChaosBenchReport& r) {
  std::map<std::string, std::set<std::uint64_t>> seqs;
  std::ifstream in(jsonl);
  for (std::string line; std::getline(in, line);) {
    ++r.lines;
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.contains("camera") || !j.contains("seq")) {
      ++r.torn;
      continue;
    }
    seqs[j["camera"].get<std::string>()].insert(j["seq"].get<std::uint64_t>());
  }
  for (const auto& cam : stats["cameras"]) {
    const auto in_count = cam["frames_in"].get<std::uint64_t>();
    const auto& got = seqs[cam["camera"].get<std::string>()];
    r.frames_in += in_count;
    r.unique += got.size();
    for (std::uint64_t q = 0; q < in_count; ++q) r.missing += got.contains(q) ? 0 : 1;
  }
}

std::optional<int> wait_for(pid_t pid, std::chrono::seconds limit) {
  const auto until = Clock::now() + limit;
  int status = 0;
  while (Clock::now() < until) {
    if (::waitpid(pid, &status, WNOHANG) == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return std::nullopt;
}

}  // namespace

bool ChaosBenchReport::passed() const {
  return error.empty() && exit_status == 0 && missing == 0 && torn == 0 && leftovers == 0 && frames_in > 0;
}

ChaosBenchReport run_chaos_bench(const ChaosBenchOptions& o) {
  ChaosBenchReport r;
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("shmyolo-chaos-{}", getpid());
  const bool own_shm = o.shm_dir.empty();
  const auto shm = own_shm ? std::filesystem::path("/dev/shm") / fmt::format("shmyolo-chaos-{}", getpid()) : o.shm_dir;
  std::filesystem::create_directories(dir);
  std::filesystem::create_directories(shm);
  const auto config = chaos_config(o, dir, shm);
  const auto stats_file = dir / "stats.json";
  const auto log_file = dir / "pipeline.log";
  const auto start = Clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int log = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (log >= 0) ::dup2(log, STDERR_FILENO);
    _exit(pipeline::run_pipeline(config, {.stats_json = stats_file}));
  }
  std::mt19937 rng(o.seed);
  std::uniform_real_distribution<double> gap(0.5 * o.kill_every_s, 1.5 * o.kill_every_s);
  const auto until = start + std::chrono::duration<double>(o.seconds);
  while (Clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::duration<double>(gap(rng)));
    if (::waitpid(pid, nullptr, WNOHANG) == pid) {
      r.error = "the pipeline ended by itself during the chaos";
      break;
    }
    if (const auto kind = kill_one(pid, o.min_age_s, rng)) ++r.kills[*kind];
  }
  ::kill(pid, SIGTERM);
  const auto code = wait_for(pid, kStopLimit);
  if (!code) {
    ::kill(pid, SIGKILL);
    (void)wait_for(pid, std::chrono::seconds(10));
    if (r.error.empty()) r.error = "the pipeline did not stop within 120 s of SIGTERM";
  }
  r.exit_status = code.value_or(-1);
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::ifstream log(log_file);
  r.log.assign(std::istreambuf_iterator<char>(log), {});
  std::ifstream stats(stats_file);
  if (stats) {
    check_lines(config.outputs.jsonl, nlohmann::json::parse(stats), r);
  } else if (r.error.empty()) {
    r.error = "the pipeline wrote no --stats-json";
  }
  r.leftovers = static_cast<std::size_t>(std::distance(std::filesystem::directory_iterator(shm), {}));
  if (own_shm && r.leftovers == 0) std::filesystem::remove(shm);
  std::filesystem::remove_all(dir);
  return r;
}

std::string report_table(const ChaosBenchReport& r) {
  std::string kills;
  int total = 0;
  for (const auto& [kind, n] : r.kills) {
    kills += fmt::format(" {} {}", kind, n);
    total += n;
  }
  std::string t;
  t += fmt::format("  ran {:.0f} s, SIGKILLs {} ({} )\n", r.seconds, total, kills);
  t += fmt::format("  frames published {}   lines {}   distinct frames {}   duplicates {}\n", r.frames_in, r.lines,
                   r.unique, r.lines - r.torn - r.unique);
  t += fmt::format("  missing {}   torn lines {}   exit status {}   left in the shm folder {}\n", r.missing, r.torn,
                   r.exit_status, r.leftovers);
  if (!r.error.empty()) t += fmt::format("  error: {}\n", r.error);
  t += r.passed() ? "  PASS: every frame came out, the stop was clean\n" : "  FAIL\n";
  return t;
}

}  // namespace shmyolo::bench
