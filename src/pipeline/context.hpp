// What every process of a pipeline knows: the configuration, the model's
// facts, the names of the rings and the shared status. Built by the
// supervisor before it forks, so children inherit it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <shmyolo/bus/ring.hpp>
#include <shmyolo/config/pipeline_config.hpp>
#include <shmyolo/detect/detector.hpp>
#include <shmyolo/detect/model.hpp>
#include <shmyolo/pipeline/status.hpp>

namespace shmyolo::pipeline {

struct ModelFacts {
  int input_width = 0;
  int input_height = 0;
  bool dynamic_batch = false;
  detect::Preprocessing preprocessing;
  std::vector<std::string> names;
};

struct Context {
  const config::PipelineConfig* config = nullptr;
  ModelFacts model;
  std::filesystem::path shm_dir;
  std::vector<std::string> camera_rings;  // one per camera, config order
  std::vector<std::string> result_rings;  // one per worker
  std::string upload_ring;                // HTTP uploads (config http:), else empty
  std::string feed_ring;                  // the detections feed
  PipelineStatus* status = nullptr;
  // The model the supervisor loaded before forking (shared_model.hpp), which
  // workers use instead of loading their own; nullptr: each loads its own.
  detect::Detector* shared_model = nullptr;
};

// Learns the model's facts in a child process, so that the supervisor never
// starts an inference engine (and its threads) before it forks. Empty when
// the model cannot be opened; the child has printed why.
[[nodiscard]] std::optional<ModelFacts> probe_model(const config::ModelConfig& model);

// The processes the supervisor forks. Each returns its exit code.
// Ingest: 0 when its source has ended (a file that does not loop).
int run_ingest(const Context& ctx, int camera);
int run_worker(const Context& ctx, int worker);
int run_aggregator(const Context& ctx);

// Takes a ring's producer role, waiting up to 5 s while the process this one
// replaces is still exiting.
[[nodiscard]] bus::BusResult<bus::Producer> attach_producer(bus::FrameRing& ring);

// A process's stop flag: set by SIGTERM (and in the supervisor by SIGINT,
// SIGQUIT and SIGHUP), polled by its loop. Each child re-installs it (cleared)
// after fork.
enum class StopRole { supervisor, child };
bool stop_requested();
void install_stop_handlers(StopRole role);

}  // namespace shmyolo::pipeline
