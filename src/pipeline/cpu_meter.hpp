// A process's own CPU time, added to a shared counter as it runs: each
// ingest, worker and the aggregator keep theirs in the status segment, and
// the statistics turn the counters into CPU % per interval. Measured by the
// process itself (CLOCK_PROCESS_CPUTIME_ID: every thread, ONNX Runtime's
// included), so it holds across containers and PID namespaces, where a
// reader of /proc could not see the other processes.
#pragma once

#include <atomic>
#include <cstdint>
#include <ctime>

namespace shmyolo::pipeline {

class CpuMeter {
 public:
  explicit CpuMeter(std::atomic<std::uint64_t>& total) : total_(total), last_(now()) {}

  // Adds the CPU time used since the last call.
  void account() {
    const std::uint64_t t = now();
    // relaxed: a statistic; nothing else is published through it.
    total_.fetch_add(t - last_, std::memory_order_relaxed);
    last_ = t;
  }

 private:
  static std::uint64_t now() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
  }

  std::atomic<std::uint64_t>& total_;
  std::uint64_t last_;
};

// A CPU-time counter as a share of one core (100 = one core busy), over at
// least a second between readings, for readers polled at their own pace
// (/v1/cameras); 0 until a second has passed.
class CpuRate {
 public:
  double percent(std::uint64_t cpu_ns, std::uint64_t now_ns) {
    constexpr std::uint64_t kWindowNs = 1'000'000'000;
    if (!started_) {
      started_ = true;
      last_cpu_ns_ = cpu_ns;
      last_ns_ = now_ns;
    } else if (now_ns - last_ns_ >= kWindowNs) {
      percent_ = cpu_ns >= last_cpu_ns_
                     ? static_cast<double>(cpu_ns - last_cpu_ns_) * 100 / static_cast<double>(now_ns - last_ns_)
                     : 0;
      last_cpu_ns_ = cpu_ns;
      last_ns_ = now_ns;
    }
    return percent_;
  }

 private:
  bool started_ = false;
  std::uint64_t last_cpu_ns_ = 0;
  std::uint64_t last_ns_ = 0;
  double percent_ = 0;
};

}  // namespace shmyolo::pipeline
