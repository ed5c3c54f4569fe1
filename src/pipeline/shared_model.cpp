#include "shared_model.hpp"

#include <filesystem>
#include <iterator>

namespace shmyolo::pipeline {
namespace {

// Threads of this process: a fork copies only the calling one, so another
// thread's locks and work would be lost in the child.
std::ptrdiff_t thread_count() {
  std::error_code ec;
  const std::filesystem::directory_iterator tasks("/proc/self/task", ec);
  return ec ? -1 : std::distance(tasks, std::filesystem::directory_iterator());
}

}  // namespace

std::unique_ptr<detect::Detector> load_shared_model(const config::PipelineConfig& config) {
  if (config.model.options.engine != detect::Engine::onnxruntime || config.workers.threads != 1) return nullptr;
  detect::ModelOptions options = config.model.options;
  options.threads = 1;
  const std::ptrdiff_t before = thread_count();
  auto detector = detect::Detector::open(options);
  if (!detector) return nullptr;                               // each worker then says why, as before
  if (before < 0 || thread_count() != before) return nullptr;  // the engine started a thread: not safe to fork
  return std::make_unique<detect::Detector>(std::move(*detector));
}

}  // namespace shmyolo::pipeline
