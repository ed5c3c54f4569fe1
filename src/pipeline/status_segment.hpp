// The segment that holds a pipeline's PipelineStatus: a one-slot opaque ring,
// so that it is created, sized, listed (`shmyolo ls`), collected (`gc`),
// unlinked on a stop signal and explained when missing exactly like the
// frame rings, with no second kind of segment to care for.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <shmyolo/config/pipeline_config.hpp>

#include "context.hpp"

#include <shmyolo/bus/ring.hpp>
#include <shmyolo/pipeline/status.hpp>

namespace shmyolo::pipeline {

struct StatusSegment {
  bus::FrameRing ring;
  PipelineStatus* status = nullptr;
};

[[nodiscard]] bus::RingOptions status_ring_options(const std::string& pipeline, const std::filesystem::path& dir);

// The owner (`--role all` or `ingest`): a fresh, zeroed status with the
// pipeline's facts (PipelineFacts) filled in.
[[nodiscard]] bus::BusResult<StatusSegment> create_status(const bus::RingOptions& options,
                                                          const config::PipelineConfig& config,
                                                          const ModelFacts& model);

// Another process (`--role workers`): the owner's status, checked to be of
// this build's layout.
[[nodiscard]] bus::BusResult<StatusSegment> attach_status(const std::string& name, const std::filesystem::path& dir);

}  // namespace shmyolo::pipeline
