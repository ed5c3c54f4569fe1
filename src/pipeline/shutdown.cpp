// The ordered stop: cameras first, so nothing new arrives (a camera fed
// from outside: nothing after the stop is waited for); then the workers
// finish every queued frame (dead ones are still replaced meanwhile); then
// the workers and the aggregator stop, and the rings are removed.
#include <sys/wait.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <thread>

#include "supervisor_process.hpp"

namespace shmyolo::pipeline {
namespace {

constexpr auto kExitGrace = std::chrono::seconds(10);   // after SIGTERM, before SIGKILL
constexpr auto kDrainLimit = std::chrono::seconds(60);  // queued frames still being worked on at stop

}  // namespace

void Supervisor::stop_role(Role role) {
  for (auto& c : children_) {
    if (c.role != role || c.pid <= 0) continue;
    kill(c.pid, SIGTERM);
    kill(c.pid, SIGCONT);  // a stopped child (SIGSTOP, a debugger let go) must run to exit
  }
  const auto deadline = Clock::now() + kExitGrace;
  while (Clock::now() < deadline &&
         std::ranges::any_of(children_, [&](const Child& c) { return c.role == role && c.pid > 0; })) {
    int wait_status = 0;
    const pid_t pid = waitpid(-1, &wait_status, WNOHANG);
    if (pid > 0) {
      if (Child* c = find(pid)) c->pid = -1;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  for (auto& c : children_) {
    if (c.role != role || c.pid <= 0) continue;
    std::fprintf(stderr, "shmyolo: %s did not stop in time: killed\n", role_name(c, config_).c_str());
    kill(c.pid, SIGKILL);
    waitpid(c.pid, nullptr, 0);
    if (role == Role::worker) rings_.take_back_frames_of(c.pid);
    c.pid = -1;
  }
}

// Whether anyone can still drain the queues: always with our own workers;
// with --role ingest, while a workers process heartbeats on a results ring.
bool Supervisor::workers_alive() const {
  return options_.role == RunRole::all || rings_.results_heartbeating();
}

// Queued frames are owed a result, and results in the results rings a line:
// let the workers and the aggregator finish them. Either may have died just
// before the stop (it is then in its backoff): it is restarted as usual, or
// its results would be lost with the rings. A camera fed from outside
// (`source: external`) has its frames up to the stop finished; its producer
// finds the ring closed at the next frame after that.
void Supervisor::drain_queues() {
  const auto deadline = Clock::now() + kDrainLimit;
  const auto limits = rings_.seq_limits();
  while (!rings_.queues_drained(limits) && Clock::now() < deadline && workers_alive() && failure_.empty()) {
    std::this_thread::sleep_for(kTick);
    reap();
    replace_stuck_workers();
    for (auto& c : children_) {
      if (c.role != Role::ingest && c.pid < 0 && !c.done && Clock::now() >= c.restart_at) spawn(c);
    }
  }
}

void Supervisor::stop() {
  status_->stopping.store(1, std::memory_order_relaxed);  // relaxed: a flag, nothing published with it
  stop_role(Role::ingest);
  for (std::size_t c = 0; c < config_.cameras.size(); ++c) {
    auto& state = status_->cameras[c].state;
    const auto now = static_cast<CameraState>(state.load(std::memory_order_relaxed));
    if (now != CameraState::finished && now != CameraState::failed) {
      state.store(static_cast<std::uint32_t>(CameraState::stopped), std::memory_order_relaxed);
    }
  }
  drain_queues();
  stop_role(Role::worker);
  stop_role(Role::aggregator);
  rings_.close();
  if (status_segment_) status_segment_->ring.close();  // tells --role workers processes the pipeline stopped
}

}  // namespace shmyolo::pipeline
