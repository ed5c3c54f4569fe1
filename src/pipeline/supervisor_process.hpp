// The supervisor of `shmyolo run`, split by job across files:
//   supervisor.cpp    start (preflight, rings, children), the tick loop, the exit status
//   child_table.cpp   how a child's exit is judged, and the restart backoff
//   shutdown.cpp      the ordered stop: cameras, queued frames drained, workers, aggregator
//   workers_role.cpp  `--role workers`: wait for another container's segments, attach, serve
// with the rings it computes in ring_layout.cpp, holds in pipeline_rings.cpp
// and checks first in preflight.cpp.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <shmyolo/config/pipeline_config.hpp>
#include <shmyolo/pipeline/supervisor.hpp>

#include "child_table.hpp"
#include "context.hpp"
#include "pipeline_rings.hpp"
#include "ring_layout.hpp"
#include "stats_report.hpp"
#include "status_segment.hpp"

namespace shmyolo::pipeline {

inline constexpr auto kTick = std::chrono::milliseconds(100);  // how often the supervisor looks at its children

class Supervisor {
 public:
  Supervisor(const config::PipelineConfig& config, const RunOptions& options) : config_(config), options_(options) {}
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  int run();

 private:
  // supervisor.cpp
  [[nodiscard]] std::string described(std::string_view after_workers) const;
  [[nodiscard]] int report_checked(const ShmPlan* plan) const;
  void warn_missing_sources(const std::string& file) const;
  bool create_segments();
  void start_children();
  void load_model_for_workers();
  void spawn(Child& c);
  int child_main(const Child& c, pid_t parent);
  Child* find(pid_t pid);
  void reap();
  void on_exit(Child& c, int wait_status);
  void replace_stuck_workers();
  void restart_due();
  void watch_external_cameras();
  [[nodiscard]] bool all_sources_ended() const;
  [[nodiscard]] bool duration_over() const;
  void print_stats();
  void supervise();
  void note_workers_ready();
  [[nodiscard]] bool rings_intact();
  void replace_users_of(const DamagedRing& ring);
  int finish();

  // shutdown.cpp
  void stop();
  void stop_role(Role role);
  void drain_queues();
  [[nodiscard]] bool workers_alive() const;

  // workers_role.cpp
  int run_workers_role();
  bool attach_owner();
  [[nodiscard]] bool owner_gone() const;

  const config::PipelineConfig& config_;
  RunOptions options_;
  Context ctx_;
  RingLayout layout_;
  std::optional<StatusSegment> status_segment_;
  PipelineStatus* status_ = nullptr;
  PipelineRings rings_;  // none until created (or, --role workers, attached)
  std::vector<Child> children_;
  std::unique_ptr<StatsReport> report_;
  std::unique_ptr<detect::Detector> shared_model_;  // loaded before the workers are forked
  Clock::time_point start_;
  std::optional<Clock::time_point> workers_ready_at_;  // when every worker had first run the model
  std::string failure_;                                // why the run failed (said when found); empty while it has not
};

}  // namespace shmyolo::pipeline
