#include "pipeline_bench.hpp"

#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <opencv2/videoio.hpp>
#include <shmyolo/config/pipeline_config.hpp>
#include <shmyolo/detect/detector.hpp>
#include <shmyolo/ingest/slot_letterbox.hpp>
#include <shmyolo/ingest/synthetic_camera.hpp>
#include <shmyolo/pipeline/supervisor.hpp>

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
[[noreturn]] void bare_child(const PipelineBenchOptions& o, int index, bool ingest, std::uint64_t* count) {
  auto d = detect::Detector::open({.path = o.model, .threads = 1});
  if (!d) _exit(1);
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
  *count = n;
  _exit(0);
}

double bare_fps(const PipelineBenchOptions& o, bool ingest) {
  auto* counts = static_cast<std::uint64_t*>(
      mmap(nullptr, sizeof(std::uint64_t) * 64, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  if (counts == MAP_FAILED) return 0;
  std::vector<pid_t> pids;
  for (int w = 0; w < o.workers && w < 64; ++w) {
    const pid_t pid = fork();
    if (pid == 0) bare_child(o, w, ingest, &counts[w]);
    pids.push_back(pid);
  }
  for (const pid_t pid : pids) waitpid(pid, nullptr, 0);
  double total = 0;
  for (int w = 0; w < o.workers && w < 64; ++w) total += static_cast<double>(counts[w]);
  munmap(counts, sizeof(std::uint64_t) * 64);
  return total / kBareSeconds;
}

// Every process below `root`, `root` included.
std::vector<pid_t> process_tree(pid_t root) {
  std::map<pid_t, std::vector<pid_t>> children;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(e.path() / "stat");
    std::string line;
    std::getline(stat, line);
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    char state = 0;
    pid_t parent = 0;
    rest >> state >> parent;
    children[parent].push_back(std::stoi(name));
  }
  std::vector<pid_t> tree{root};
  for (std::size_t i = 0; i < tree.size(); ++i) {
    for (const pid_t c : children[tree[i]]) tree.push_back(c);
  }
  return tree;
}

double pss_mb(const std::vector<pid_t>& pids) {
  double kb = 0;
  for (const pid_t p : pids) {
    std::ifstream in("/proc/" + std::to_string(p) + "/smaps_rollup");
    for (std::string key; in >> key;) {
      if (key == "Pss:") {
        double v = 0;
        in >> v;
        kb += v;
        break;
      }
    }
  }
  return kb / 1024;
}

config::PipelineConfig bench_config(const PipelineBenchOptions& o) {
  config::PipelineConfig c;
  c.name = fmt::format("bench{}", getpid());
  c.shm_dir = o.shm_dir;
  c.model.options.path = o.model;
  c.workers.count = o.workers;
  c.outputs.stats_interval_s = 3600;  // quiet: the bench prints the figures
  for (int i = 0; i < o.cameras; ++i) {
    config::CameraConfig cam;
    cam.name = fmt::format("cam{}", i);
    cam.source =
        o.source.empty() ? fmt::format("synthetic:?width={}&height={}&seed={}", o.width, o.height, 100 + i) : o.source;
    cam = *config::parse_source(cam, std::filesystem::current_path());
    cam.fps = 0;  // unpaced: as fast as the workers take frames
    cam.delivery = bus::Delivery::queue;
    cam.loop = true;
    cam.frames = static_cast<std::uint64_t>(o.frames);
    c.cameras.push_back(cam);
  }
  return c;
}

double cpu_seconds_of_children() {
  rusage r{};
  getrusage(RUSAGE_CHILDREN, &r);
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
         static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

void run_pipeline_once(const PipelineBenchOptions& o, PipelineBenchReport& r) {
  const auto stats_file = std::filesystem::temp_directory_path() / fmt::format("shmyolo-bench-{}.json", getpid());
  const config::PipelineConfig config = bench_config(o);
  const double cpu_before = cpu_seconds_of_children();
  const auto start = Clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    std::fclose(stderr);  // the supervisor's own lines would interleave with the table
    _exit(pipeline::run_pipeline(config, {.stats_json = stats_file}));
  }
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    r.pss_mb = std::max(r.pss_mb, pss_mb(process_tree(pid)));
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  r.cpu_pct = 100.0 * (cpu_seconds_of_children() - cpu_before) / wall /
              static_cast<double>(std::max(1U, std::thread::hardware_concurrency()));
  std::ifstream in(stats_file);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !in) {
    r.error = "the pipeline failed; run it with shmyolo run to see why";
    return;
  }
  const auto s = nlohmann::json::parse(in);
  std::filesystem::remove(stats_file);
  r.seconds = s["elapsed_s"].get<double>();
  r.frames = s["total"]["frames_out"].get<int>();
  // All cameras' samples together; null when no frame came out.
  const auto& e2e = s["total"]["latency_ms"]["end_to_end"];
  r.latency_p50_ms = e2e["p50"].is_null() ? 0 : e2e["p50"].get<double>();
  r.latency_p99_ms = e2e["p99"].is_null() ? 0 : e2e["p99"].get<double>();
  r.pipeline_fps = r.seconds > 0 ? r.frames / r.seconds : 0;
}

}  // namespace

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
