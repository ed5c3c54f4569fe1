#include "pipeline_bench.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <opencv2/videoio.hpp>
#include <shmyolo/config/pipeline_config.hpp>
#include <shmyolo/detect/detector.hpp>
#include <shmyolo/ingest/slot_letterbox.hpp>
#include <shmyolo/ingest/synthetic_camera.hpp>
#include <shmyolo/pipeline/supervisor.hpp>

#include "process_stats.hpp"

namespace shmyolo::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr double kBareSeconds = 10;  // each bare-detector run

// Frames the way a camera delivers them: decoded, full size.
class FrameFeed {
 public:
  explicit FrameFeed(const PipelineBenchOptions& o, int index)
      : camera_({.width = o.width, .height = o.height, .seed = 100U + static_cast<std::uint64_t>(index)}) {
    if (!o.source.empty()) video_.open(o.source, cv::CAP_FFMPEG);
    frame_.create(o.height, o.width, CV_8UC3);
  }
  const cv::Mat& next() {
    if (video_.isOpened()) {
      if (!video_.read(frame_)) {
        video_.set(cv::CAP_PROP_POS_FRAMES, 0);
        video_.read(frame_);
      }
      return frame_;
    }
    camera_.render(index_++, frame_.data, frame_.step, truth_);
    return frame_;
  }

 private:
  ingest::SyntheticCamera camera_;
  cv::VideoCapture video_;
  cv::Mat frame_;
  std::vector<ingest::GroundTruth> truth_;
  std::uint64_t index_ = 0;
};

cv::Mat letterboxed(const cv::Mat& frame, const detect::ModelInfo& info) {
  cv::Mat slot(info.input_height, info.input_width, CV_8UC3);
  (void)ingest::letterbox_into_slot(
      {.data = frame.data, .width = frame.cols, .height = frame.rows, .stride = frame.step},
      {.data = slot.data, .width = slot.cols, .height = slot.rows, .stride = slot.step}, info.preprocessing);
  return slot;
}

detect::ImageView view_of(const cv::Mat& m) {
  return {.data = m.data, .width = m.cols, .height = m.rows, .stride = m.step};
}

// One bare detector process: letterboxed frames in a loop (or, with
// `ingest`, each frame decoded and letterboxed first, in the same process).
std::uint64_t bare_frames(const PipelineBenchOptions& o, int index, bool ingest) {
  auto d = detect::Detector::open({.path = o.model, .threads = 1});
  if (!d) return 0;
  FrameFeed feed(o, index);
  std::vector<cv::Mat> ready;
  ready.reserve(16);
  for (int i = 0; i < 16; ++i) ready.push_back(letterboxed(feed.next(), d->info()));
  (void)d->detect(view_of(ready[0]), {});  // warm-up
  const auto start = Clock::now();
  std::uint64_t n = 0;
  while (std::chrono::duration<double>(Clock::now() - start).count() < kBareSeconds) {
    const cv::Mat input = ingest ? letterboxed(feed.next(), d->info()) : ready[n % ready.size()];
    if (d->detect(view_of(input), {})) ++n;
  }
  return n;
}

config::PipelineConfig bench_config(const PipelineBenchOptions& o) {
  config::PipelineConfig c;
  c.name = fmt::format("bench{}", getpid());
  c.shm_dir = o.shm_dir;
  c.model.options.path = o.model;
  c.workers.count = o.workers;
  c.outputs.stats_interval_s = 3600;  // quiet: the bench prints the figures
  for (int i = 0; i < o.cameras; ++i) {
    config::CameraConfig cam = bench_camera(i, o.source, o.width, o.height);
    cam.fps = 0;  // unpaced: as fast as the workers take frames
    cam.frames = static_cast<std::uint64_t>(o.frames);
    c.cameras.push_back(cam);
  }
  return c;
}

void run_pipeline_once(const PipelineBenchOptions& o, PipelineBenchReport& r) {
  const double cpu_before = cpu_seconds_of_children();
  const auto start = Clock::now();
  const PipelineChildRun run = run_pipeline_child(bench_config(o));
  r.pss_mb = run.peak_pss_mb;
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  r.cpu_pct = 100.0 * (cpu_seconds_of_children() - cpu_before) / wall /
              static_cast<double>(std::max(1U, std::thread::hardware_concurrency()));
  if (run.stats.is_null()) {
    r.error = "the pipeline failed; run it with shmyolo run to see why";
    return;
  }
  const auto& s = run.stats;
  r.seconds = s["elapsed_s"].get<double>();
  r.frames = s["total"]["frames_out"].get<int>();
  // All cameras' samples together; null when no frame came out.
  const auto& e2e = s["total"]["latency_ms"]["end_to_end"];
  r.latency_p50_ms = e2e["p50"].is_null() ? 0 : e2e["p50"].get<double>();
  r.latency_p99_ms = e2e["p99"].is_null() ? 0 : e2e["p99"].get<double>();
  r.pipeline_fps = r.seconds > 0 ? r.frames / r.seconds : 0;
}

}  // namespace

PipelineChildRun run_pipeline_child(const config::PipelineConfig& config, double duration_s) {
  const auto stats_file = std::filesystem::temp_directory_path() / fmt::format("shmyolo-bench-{}.json", getpid());
  std::filesystem::remove(stats_file);
  const pid_t pid = fork();
  if (pid == 0) {
    silence_stderr();
    _exit(pipeline::run_pipeline(config, {.duration_s = duration_s, .stats_json = stats_file}));
  }
  const WatchedExit exit = wait_sampling_memory(pid);
  PipelineChildRun run{.stats = nullptr, .peak_pss_mb = exit.peak_pss_mb};
  std::ifstream in(stats_file);
  if (WIFEXITED(exit.status) && WEXITSTATUS(exit.status) == 0 && in) {
    run.stats = nlohmann::json::parse(in, nullptr, false);
    if (run.stats.is_discarded()) run.stats = nullptr;
  }
  std::filesystem::remove(stats_file);
  return run;
}

double bare_fps(const PipelineBenchOptions& o, bool ingest) {
  const std::uint64_t total = sum_over_processes(o.workers, [&](int index) { return bare_frames(o, index, ingest); });
  return static_cast<double>(total) / kBareSeconds;
}

PipelineBenchReport run_pipeline_bench(const PipelineBenchOptions& o) {
  PipelineBenchReport r;
  r.cameras = o.cameras;
  r.workers = o.workers;
  // No detector opens in this process: the children fork from it.
  r.bare_fps = bare_fps(o, false);
  if (r.bare_fps <= 0) {
    r.error = fmt::format("cannot run {}: see shmyolo models inspect {}", o.model.string(), o.model.string());
    return r;
  }
  r.bare_with_ingest_fps = bare_fps(o, true);
  run_pipeline_once(o, r);
  return r;
}

std::string report_table(const PipelineBenchReport& r) {
  if (!r.error.empty()) return fmt::format("failed: {}\n", r.error);
  std::string t;
  t += fmt::format("{} cameras x {} workers, {} frames in {:.1f} s\n", r.cameras, r.workers, r.frames, r.seconds);
  t += fmt::format("  pipeline throughput          {:8.1f} fps\n", r.pipeline_fps);
  t += fmt::format("  bare detector, same cores    {:8.1f} fps   pipeline/bare {:.3f} ({:+.1f} %)\n", r.bare_fps,
                   r.pipeline_fps / r.bare_fps, 100.0 * (r.pipeline_fps / r.bare_fps - 1));
  t += fmt::format("  bare detector + decode/letterbox in-process {:8.1f} fps   pipeline/that {:.3f}\n",
                   r.bare_with_ingest_fps, r.pipeline_fps / r.bare_with_ingest_fps);
  t += fmt::format(
      "  end-to-end latency           p50 {:.1f} ms  p99 {:.1f} ms (queue mode, unpaced: includes queueing)\n",
      r.latency_p50_ms, r.latency_p99_ms);
  t += fmt::format("  CPU                          {:8.1f} % of all cores\n", r.cpu_pct);
  t += fmt::format("  memory (sum of PSS, peak)    {:8.1f} MB\n", r.pss_mb);
  return t;
}

std::string report_json(const PipelineBenchReport& r) {
  return nlohmann::json{{"cameras", r.cameras},
                        {"workers", r.workers},
                        {"frames", r.frames},
                        {"seconds", r.seconds},
                        {"pipeline_fps", r.pipeline_fps},
                        {"bare_fps", r.bare_fps},
                        {"bare_with_ingest_fps", r.bare_with_ingest_fps},
                        {"ratio", r.bare_fps > 0 ? r.pipeline_fps / r.bare_fps : 0},
                        {"latency_ms_p50", r.latency_p50_ms},
                        {"latency_ms_p99", r.latency_p99_ms},
                        {"cpu_pct", r.cpu_pct},
                        {"pss_mb", r.pss_mb},
                        {"error", r.error}}
      .dump(2);
}

}  // namespace shmyolo::bench
