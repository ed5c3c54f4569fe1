// The value checks of a pipeline configuration, shared by validate() (for a
// config built in code) and the YAML reader (which turns the key into the
// file's line).
#pragma once

#include <string>
#include <vector>

#include <shmyolo/config/pipeline_config.hpp>

namespace shmyolo::config::detail {

struct Violation {
  std::string key;   // as the YAML spells it: cameras[1].roi.width
  std::string what;  // what is wrong and what to do
};

// Every value out of its range or rule, in the order of the YAML keys.
[[nodiscard]] std::vector<Violation> violations(const PipelineConfig& config);

[[nodiscard]] bool valid_name(const std::string& name);

}  // namespace shmyolo::config::detail
