// What `shmyolo run` checks before it creates a segment or forks a child:
// each failure is one line that names the thing and what to do, said at
// start rather than found by a child restarting in a loop.
#pragma once

#include <shmyolo/config/pipeline_config.hpp>
#include <shmyolo/pipeline/supervisor.hpp>

#include "context.hpp"

namespace shmyolo::pipeline {

// model.classes names classes the model has (every role checks this).
[[nodiscard]] bool check_classes(const config::PipelineConfig& config, const ModelFacts& model);

// The owner's checks: room in the shared-memory folder for the plan, the
// HTTP port free, the JSON Lines file writable. A start makes the output
// files and folders that are missing; a check (`create` false) only asks
// whether it could.
[[nodiscard]] bool preflight(const config::PipelineConfig& config, const ShmPlan& plan, bool create = true);

}  // namespace shmyolo::pipeline
