// `shmyolo run --role workers`: the segments belong to the ingest side, in
// another container. Attach them when they appear, run the workers until
// that side stops or restarts, then wait for it again.
#include <cstdio>
#include <thread>

#include <fmt/format.h>

#include "supervisor_process.hpp"

namespace shmyolo::pipeline {
namespace {

constexpr auto kOwnerPoll = std::chrono::milliseconds(500);  // how often it looks for the segments

}  // namespace

int Supervisor::run_workers_role() {
  install_stop_handlers(StopRole::supervisor);
  while (!stop_requested() && !duration_over() && failure_.empty()) {
    if (!attach_owner()) break;
    start_children();
    std::fprintf(stderr, "shmyolo: pipeline %s: %d workers attached in %s, model %s (%dx%d)\n", config_.name.c_str(),
                 config_.workers.count, ctx_.shm_dir.c_str(), config_.model.options.path.filename().c_str(),
                 ctx_.model.input_width, ctx_.model.input_height);
    supervise();
    stop_role(Role::worker);
    children_.clear();
    if (owner_gone() && !stop_requested()) {
      std::fprintf(stderr, "shmyolo: pipeline %s: its ingest side stopped; waiting for it to start again\n",
                   config_.name.c_str());
    }
    status_segment_.reset();
    rings_ = {};
    status_ = nullptr;
    ctx_.status = nullptr;
  }
  return failure_.empty() ? 0 : 1;
}

// Waits for the ingest side's status segment and rings; says once why it waits.
bool Supervisor::attach_owner() {
  std::string said;
  while (!stop_requested() && !duration_over()) {
    auto seg = attach_status(layout_.status.name, ctx_.shm_dir);
    auto rings = seg && seg->ring.health() != bus::RingHealth::closed ? PipelineRings::attach(layout_) : std::nullopt;
    if (rings) {
      status_segment_ = std::move(*seg);
      rings_ = std::move(*rings);
      status_ = status_segment_->status;
      ctx_.status = status_;
      return true;
    }
    const std::string why =
        seg ? fmt::format("pipeline {} in {} is closing", config_.name, ctx_.shm_dir.string())
        : seg.error().code == bus::BusErrc::not_found && seg.error().message.find("another") == std::string::npos
            ? fmt::format(
                  "waiting for pipeline {}: no {} in {} yet (start shmyolo run --role ingest with this "
                  "/dev/shm shared, or both with one --shm-dir)",
                  config_.name, layout_.status.name, ctx_.shm_dir.string())
            : seg.error().message;
    if (why != said) std::fprintf(stderr, "shmyolo: %s\n", why.c_str());
    said = why;
    std::this_thread::sleep_for(kOwnerPoll);
  }
  return false;
}

bool Supervisor::owner_gone() const {
  return status_segment_ &&
         (status_segment_->ring.health() == bus::RingHealth::closed || status_segment_->ring.superseded());
}

}  // namespace shmyolo::pipeline
