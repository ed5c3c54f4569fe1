// The engines behind InferenceEngine, and what they share.
#pragma once

#include <memory>
#include <string>

#include <shmyolo/detect/engine.hpp>

namespace shmyolo::detect::detail {

DetectResult<std::unique_ptr<InferenceEngine>> open_ort_engine(const ModelOptions& options);
DetectResult<std::unique_ptr<InferenceEngine>> open_opencv_engine(const ModelOptions& options);

// Engine messages can span lines; ours are one line each.
std::string one_line(const std::string& text);

}  // namespace shmyolo::detect::detail
