// What a benchmark measures of the processes it starts: the process tree
// below a pid, its summed PSS (shared pages split between their users, so
// shared memory is counted once), and the CPU time of reaped children.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <shmyolo/config/pipeline_config.hpp>

namespace shmyolo::bench {

// Every live process below `root`, `root` included.
[[nodiscard]] std::vector<pid_t> process_tree(pid_t root);
// Summed PSS of these processes in MB; a process that is gone counts 0.
[[nodiscard]] double pss_mb(const std::vector<pid_t>& pids);
// User + system CPU seconds of this process's reaped descendants.
[[nodiscard]] double cpu_seconds_of_children();
// This process's own CPU time so far, every thread's, in ms.
[[nodiscard]] double own_cpu_ms();

// Waits for `pid` to exit, sampling the summed PSS of its tree; returns its
// wait status and the peak. A sample walks every process's page tables
// (about 2 ms of CPU a process), so samples are spaced to keep the sampler
// under 2 % of a core, and at least 100 ms apart: every 100 ms, a 12-process
// pipeline's samples took a fifth of a core from the processes measured.
struct WatchedExit {
  int status = 0;
  double peak_pss_mb = 0;
};
[[nodiscard]] WatchedExit wait_sampling_memory(pid_t pid);

// Runs `body(i)` in `processes` forked children side by side (i = 0..n-1)
// and sums the counts they return; a child that fails counts 0. The caller
// must not have started an inference engine: its threads do not fork.
[[nodiscard]] std::uint64_t sum_over_processes(int processes, const std::function<std::uint64_t(int)>& body);

// Camera i of a benchmark's pipeline: `source` (a video file) or, when empty,
// a synthetic camera of that size whose seed depends only on i, so every run
// of the benchmark sees the same frames. Queue delivery, looping.
[[nodiscard]] config::CameraConfig bench_camera(int i, const std::string& source, int width, int height);

// Points stderr at /dev/null, for a child whose lines would interleave with
// the benchmark's table. (Closing it instead would let the next file opened
// take descriptor 2 and receive the messages.)
void silence_stderr();

}  // namespace shmyolo::bench
