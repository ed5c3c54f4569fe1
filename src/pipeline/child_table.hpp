// The supervisor's children: which process plays which part, how each exit
// is judged (finished, restart after a backoff, or given up on), and the
// backoff itself. Forking and signalling stay in the supervisor; what is
// decided here is pure, so it is unit-tested without processes.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include <shmyolo/config/pipeline_config.hpp>

namespace shmyolo::pipeline {

using Clock = std::chrono::steady_clock;

enum class Role { ingest, worker, aggregator };

// A child's exit code for an error a restart would only repeat (a camera's
// region of interest outside its frames): the supervisor gives up at once.
inline constexpr int kExitPermanent = 3;
// Failures in a row, each within kStartupWindow of its start, after which a
// child is given up on: with the backoff below that is about 15 s of tries.
// A child that dies later (killed, OOM, a crash after hours) did start, so it
// is restarted however often that happens.
inline constexpr int kCrashLoopBound = 5;
inline constexpr auto kStartupWindow = std::chrono::seconds(5);  // loading a model takes about 1 s here
inline constexpr auto kHealthyAfter = std::chrono::seconds(30);  // a child up this long starts its backoff afresh

struct Child {
  Child(Role r, int i) : role(r), index(i) {}
  Role role;
  int index;
  pid_t pid = -1;
  int failures = 0;        // in a row, for the backoff
  int quick_failures = 0;  // in a row, each within kStartupWindow of the start: the crash-loop bound
  Clock::time_point started{};
  Clock::time_point restart_at{};
  bool done = false;       // ended for good: a finished source, or given up on
  bool gave_up = false;    // failed past the bound, or with kExitPermanent
  bool replacing = false;  // stopped by the supervisor to start afresh (its ring was recreated)
  std::string last_exit;   // "exited with code 2", "was killed by signal 9"
};

enum class Verdict {
  finished,  // a camera's source ended
  replaced,  // stopped on purpose: start it again now, no failure counted
  restart,   // failed: start it again after the backoff
  give_up,   // failed past the bound, or permanently
};

// The wait before a restart after `failures` failures in a row: 0.5 s,
// doubling, at most 10 s.
[[nodiscard]] Clock::duration restart_backoff(int failures);

// "exited with code N" or "was killed by signal N".
[[nodiscard]] std::string describe_exit(int wait_status);

// Records a reaped child's exit in `c` and says what follows. A child being
// replaced starts again at once; a camera whose source ended (status 0) is
// finished; any other exit is restarted after the backoff, unless it is
// permanent or the crash-loop bound is reached.
Verdict judge_exit(Child& c, int wait_status, Clock::time_point now);

// "camera NAME", "worker N", "aggregator".
[[nodiscard]] std::string role_name(const Child& c, const config::PipelineConfig& config);

// The process title (at most 15 characters are kept by the kernel).
[[nodiscard]] std::string process_title(const Child& c, const config::PipelineConfig& config);

}  // namespace shmyolo::pipeline
