// The model loaded once, in the supervisor, before it forks the workers: the
// weights (and ONNX Runtime's pre-packed copies of them) are then pages the
// workers share copy-on-write instead of a private copy in each, and a
// replaced worker starts without loading. Each worker's first run (its
// warm-up) allocates its own activations, which stay private.
//
// Only where forking is safe: ONNX Runtime with one inference thread per
// worker, whose session starts no thread. Otherwise (more threads, the
// OpenCV engine, or a load that started a thread) each worker loads its own.
#pragma once

#include <memory>

#include <shmyolo/config/pipeline_config.hpp>
#include <shmyolo/detect/detector.hpp>

namespace shmyolo::pipeline {

// The loaded model, or nullptr when the workers load their own.
[[nodiscard]] std::unique_ptr<detect::Detector> load_shared_model(const config::PipelineConfig& config);

}  // namespace shmyolo::pipeline
