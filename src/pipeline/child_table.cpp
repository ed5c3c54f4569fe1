#include "child_table.hpp"

#include <sys/wait.h>

#include <algorithm>

#include <fmt/format.h>

namespace shmyolo::pipeline {
namespace {

constexpr auto kFirstBackoff = std::chrono::milliseconds(500);
constexpr auto kLongestBackoff = std::chrono::seconds(10);

}  // namespace

Clock::duration restart_backoff(int failures) {
  const int doublings = std::clamp(failures - 1, 0, 5);  // 2^5 x 0.5 s is past the cap already
  return std::min<Clock::duration>(kFirstBackoff * (1 << doublings), kLongestBackoff);
}

std::string describe_exit(int wait_status) {
  return WIFSIGNALED(wait_status) ? fmt::format("was killed by signal {}", WTERMSIG(wait_status))
                                  : fmt::format("exited with code {}", WEXITSTATUS(wait_status));
}

Verdict judge_exit(Child& c, int wait_status, Clock::time_point now) {
  c.pid = -1;
  if (c.replacing) {
    c.replacing = false;
    c.restart_at = now;
    return Verdict::replaced;
  }
  const bool clean = WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0;
  if (c.role == Role::ingest && clean) {
    c.done = true;  // its source ended
    return Verdict::finished;
  }
  c.last_exit = describe_exit(wait_status);
  const auto ran = now - c.started;
  c.failures = ran > kHealthyAfter ? 1 : c.failures + 1;
  c.quick_failures = ran < kStartupWindow ? c.quick_failures + 1 : 0;
  const bool permanent = WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == kExitPermanent;
  if (permanent || c.quick_failures >= kCrashLoopBound) {
    c.done = true;
    c.gave_up = true;
    return Verdict::give_up;
  }
  c.restart_at = now + restart_backoff(c.failures);
  return Verdict::restart;
}

std::string role_name(const Child& c, const config::PipelineConfig& config) {
  switch (c.role) {
    case Role::ingest: return "camera " + config.cameras[static_cast<std::size_t>(c.index)].name;
    case Role::worker: return fmt::format("worker {}", c.index);
    case Role::aggregator: return "aggregator";
  }
  return "child";
}

std::string process_title(const Child& c, const config::PipelineConfig& config) {
  switch (c.role) {
    case Role::ingest: return "shmyolo-" + config.cameras[static_cast<std::size_t>(c.index)].name;
    case Role::worker: return fmt::format("shmyolo-worker{}", c.index);
    case Role::aggregator: return "shmyolo-aggregator";
  }
  return "shmyolo";
}

}  // namespace shmyolo::pipeline
