#include "transport_e2e.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <iterator>
#include <numeric>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <shmyolo/detect/detector.hpp>
#include <shmyolo/ingest/frame_source.hpp>
#include <shmyolo/pipeline/supervisor.hpp>

#include "latency_plot.hpp"
#include "process_stats.hpp"

namespace shmyolo::bench {
namespace {

using Clock = std::chrono::steady_clock;

// The published reference (1080p, yolov8n, i7-11800H + RTX 3060): file-I/O
// transport against shared memory. See docs/benchmarks.md.
struct Published {
  double mean_ms, sd_ms, memory_mb, cpu_pct;
};
constexpr Published kPublishedFile{48.7, 6.2, 920, 65};
constexpr Published kPublishedShm{21.3, 3.1, 540, 42};

// Each camera's first frames meet workers whose engine has not run yet (the
// first inferences are several times slower), in either architecture.
constexpr std::uint64_t kWarmUpFrames = 3;

config::PipelineConfig base_config(const TransportE2eOptions& o, bool paced) {
  config::PipelineConfig c;
  c.name = fmt::format("e2e{}", getpid());
  c.shm_dir = o.shm_dir;
  c.model.options.path = o.model;
  c.workers.count = o.workers;
  c.workers.threads = o.threads;
  c.outputs.stats_interval_s = 3600;  // quiet: the bench prints the figures
  for (int i = 0; i < o.cameras; ++i) {
    // Queue delivery: neither architecture drops a frame.
    config::CameraConfig cam = bench_camera(i, o.source, o.width, o.height);
    cam.fps = paced ? o.fps : 0;
    cam.slots = o.slots;
    const int frames = paced ? o.frames : o.full_speed_frames;
    cam.frames = static_cast<std::uint64_t>((frames + o.rounds - 1) / o.rounds);  // per round
    c.cameras.push_back(cam);
  }
  return c;
}

double cores() {
  return static_cast<double>(std::max(1U, std::thread::hardware_concurrency()));
}

// Median of `runs` timings of `step` (after one untimed run), in ms.
double median_ms(int runs, const std::function<bool()>& step) {
  if (!step()) return 0;
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    const auto start = Clock::now();
    if (!step()) return 0;
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::ranges::sort(ms);
  return ms[ms.size() / 2];
}

// Runs `measure` in a child (no inference engine may start in this process,
// which forks the architectures) and returns its result in ms.
double in_child_ms(const std::function<double()>& measure) {
  return static_cast<double>(sum_over_processes(
             1, [&](int /*child*/) { return static_cast<std::uint64_t>(std::max(0.0, measure()) * 1000); })) /
         1000;
}

// What one frame costs on this machine, measured on the first camera's
// frames: the camera producing it, JPEG encoding plus decoding, and the
// detector with the run's threads.
Calibration calibrate(const TransportE2eOptions& o, const config::PipelineConfig& c) {
  constexpr int kRuns = 7;
  const auto with_frames = [&](auto&& body) {
    return in_child_ms([&] {
      auto source = ingest::open_source(c.cameras.front());
      if (!source) return 0.0;
      cv::Mat frame;
      std::string error;
      return body(**source, frame, error);
    });
  };
  Calibration cal;
  cal.frame_ms = with_frames([&](ingest::FrameSource& source, cv::Mat& frame, std::string& error) {
    return median_ms(kRuns, [&] { return source.read(frame, error) == ingest::ReadStatus::frame; });
  });
  cal.jpeg_ms = with_frames([&](ingest::FrameSource& source, cv::Mat& frame, std::string& error) {
    if (source.read(frame, error) != ingest::ReadStatus::frame) return 0.0;
    std::vector<std::uint8_t> bytes;
    return median_ms(
        kRuns, [&] { return cv::imencode(".jpg", frame, bytes) && !cv::imdecode(bytes, cv::IMREAD_COLOR).empty(); });
  });
  cal.detector_ms = with_frames([&](ingest::FrameSource& source, cv::Mat& frame, std::string& error) {
    detect::ModelOptions model = c.model.options;
    model.threads = o.threads;
    auto d = detect::Detector::open(model);
    if (!d || source.read(frame, error) != ingest::ReadStatus::frame) return 0.0;
    const detect::ImageView view{.data = frame.data, .width = frame.cols, .height = frame.rows, .stride = frame.step};
    return median_ms(kRuns, [&] { return d->detect(view, {}).has_value(); });
  });
  return cal;
}

// The paced rate per camera: the heaviest architecture (JPEG spool files)
// keeps kAutoLoad of the cores and of the workers busy.
double auto_fps(const TransportE2eOptions& o, const Calibration& cal, double cores) {
  const double cpu_ms = cal.frame_ms + cal.jpeg_ms + cal.detector_ms * o.threads;
  const double by_cores = kAutoLoad * cores * 1000 / cpu_ms;
  const double by_workers = kAutoLoad * o.workers * 1000 / cal.detector_ms;
  const double per_camera = std::min(by_cores, by_workers) / o.cameras;
  return std::max(0.1, std::round(per_camera * 10) / 10);  // to 0.1 fps
}

// The shared-memory architecture: the real pipeline, in a child process as
// `shmyolo run` would be; its JSON Lines give each frame's timing.
ArchitectureRun run_shared_memory(const config::PipelineConfig& base) {
  ArchitectureRun run;
  config::PipelineConfig c = base;
  const auto jsonl = std::filesystem::temp_directory_path() / fmt::format("shmyolo-e2e-{}.jsonl", getpid());
  std::filesystem::remove(jsonl);
  c.outputs.jsonl = jsonl.string();
  const double cpu_before = cpu_seconds_of_children();
  const auto start = Clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    silence_stderr();
    _exit(pipeline::run_pipeline(c, {}));
  }
  const WatchedExit exit = wait_sampling_memory(pid);
  run.wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  run.cpu_s = cpu_seconds_of_children() - cpu_before;
  run.peak_pss_mb = exit.peak_pss_mb;
  std::ifstream in(jsonl);
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    const auto capture = j["capture_unix_ns"].get<std::uint64_t>();
    const auto& ms = j["latency_ms"];
    run.frames.push_back({j["frame"].get<std::uint64_t>(), capture,
                          capture + static_cast<std::uint64_t>(ms["end_to_end"].get<double>() * 1e6),
                          ms["inference"].get<float>() + ms["postprocess"].get<float>()});
  }
  std::filesystem::remove(jsonl);
  if (!WIFEXITED(exit.status) || WEXITSTATUS(exit.status) != 0) {
    run.error = "the pipeline failed; run the same cameras with shmyolo run to see why";
  }
  return run;
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

LatencySummary summarise(const ArchitectureRun& run, std::vector<double>* latencies) {
  LatencySummary s;
  std::vector<FrameTiming> frames;
  frames.reserve(run.frames.size());
  std::ranges::copy_if(run.frames, std::back_inserter(frames),
                       [](const FrameTiming& f) { return f.index >= kWarmUpFrames; });
  s.frames = frames.size();
  if (frames.empty()) return s;
  std::vector<double> ms;
  ms.reserve(frames.size());
  double outside = 0;
  std::uint64_t first = frames.front().capture_ns;
  std::uint64_t last = frames.front().done_ns;
  for (const auto& f : frames) {
    const double e2e = static_cast<double>(f.done_ns - f.capture_ns) / 1e6;
    ms.push_back(e2e);
    outside += e2e - f.model_ms;
    first = std::min(first, f.capture_ns);
    last = std::max(last, f.done_ns);
  }
  const double n = static_cast<double>(ms.size());
  s.mean_ms = std::accumulate(ms.begin(), ms.end(), 0.0) / n;
  double squares = 0;
  for (const double v : ms) squares += (v - s.mean_ms) * (v - s.mean_ms);
  s.sd_ms = ms.size() > 1 ? std::sqrt(squares / (n - 1)) : 0;
  s.outside_inference_ms = outside / n;
  if (latencies != nullptr) *latencies = ms;
  std::ranges::sort(ms);
  s.p50_ms = percentile(ms, 0.5);
  s.p99_ms = percentile(ms, 0.99);
  s.fps = last > first ? n / (static_cast<double>(last - first) / 1e9) : 0;
  s.cpu_pct = run.wall_s > 0 ? 100 * run.cpu_s / run.wall_s / cores() : 0;
  s.peak_pss_mb = run.peak_pss_mb;
  s.peak_spool_mb = static_cast<double>(run.peak_spool_bytes) / 1e6;
  return s;
}

// A fresh spool folder per run, removed afterwards.
ArchitectureRun run_file_io(const TransportE2eOptions& o, const config::PipelineConfig& c, SpoolFormat format) {
  const auto parent = o.spool_dir.empty() ? std::filesystem::temp_directory_path() : o.spool_dir;
  const auto spool = parent / fmt::format("shmyolo-spool-{}", getpid());
  std::error_code ec;
  std::filesystem::remove_all(spool, ec);
  if (!std::filesystem::create_directories(spool, ec)) {
    ArchitectureRun failed;
    failed.error = fmt::format("cannot create the spool folder {}: {}", spool.string(), ec.message());
    return failed;
  }
  auto run = run_file_transport({.config = c, .format = format, .spool = spool});
  std::filesystem::remove_all(spool, ec);
  return run;
}

// Adds one round's run to the earlier ones. Its clock is shifted to start
// where the previous round's last frame finished, so the frames' span (for
// throughput) leaves out the pauses between rounds; latencies are differences
// and do not move.
void append(ArchitectureRun& into, ArchitectureRun part) {
  if (!into.frames.empty() && !part.frames.empty()) {
    std::uint64_t end = 0;
    for (const auto& f : into.frames) end = std::max(end, f.done_ns);
    std::uint64_t start = part.frames.front().capture_ns;
    for (const auto& f : part.frames) start = std::min(start, f.capture_ns);
    for (auto& f : part.frames) {
      f.capture_ns = f.capture_ns - start + end;
      f.done_ns = f.done_ns - start + end;
    }
  }
  into.frames.insert(into.frames.end(), part.frames.begin(), part.frames.end());
  into.wall_s += part.wall_s;
  into.cpu_s += part.cpu_s;
  into.peak_pss_mb = std::max(into.peak_pss_mb, part.peak_pss_mb);
  into.peak_spool_bytes = std::max(into.peak_spool_bytes, part.peak_spool_bytes);
  if (into.error.empty()) into.error = part.error;
}

using Runner = ArchitectureRun (*)(const TransportE2eOptions&, const config::PipelineConfig&);

ArchitectureRun jpeg_runner(const TransportE2eOptions& o, const config::PipelineConfig& c) {
  return run_file_io(o, c, SpoolFormat::jpeg);
}
ArchitectureRun raw_runner(const TransportE2eOptions& o, const config::PipelineConfig& c) {
  return run_file_io(o, c, SpoolFormat::raw_bgr);
}
ArchitectureRun shm_runner(const TransportE2eOptions& /*o*/, const config::PipelineConfig& c) {
  return run_shared_memory(c);
}

std::string ratio(double shm, double file) {
  return file > 0 ? fmt::format("{:+.0f} %", 100 * (shm / file - 1)) : "-";
}

}  // namespace

TransportE2eReport run_transport_e2e(const TransportE2eOptions& options) {
  TransportE2eReport report;
  report.options = options;
  TransportE2eOptions& o = report.options;
  const std::vector<std::pair<std::string, Runner>> architectures{
      {"file I/O, JPEG", jpeg_runner}, {"file I/O, raw BGR", raw_runner}, {"shared memory (shmyolo)", shm_runner}};
  // The model is opened once up front (in a child), so a bad one is one
  // message, not one per process.
  if (!pipeline::plan_shm(base_config(o, false))) {
    report.error = fmt::format("cannot run {}", o.model.string());
    return report;
  }
  report.calibration = calibrate(o, base_config(o, false));
  const Calibration& cal = report.calibration;
  if (cal.frame_ms <= 0 || cal.jpeg_ms <= 0 || cal.detector_ms <= 0) {
    report.error = "the cameras' frames could not be read, encoded or detected on; see shmyolo run";
    return report;
  }
  if (o.fps <= 0) o.fps = auto_fps(o, cal, cores());
  const config::PipelineConfig paced = base_config(o, true);
  const config::PipelineConfig full = base_config(o, false);
  // Rounds, each architecture's turn rotating, so a machine that speeds up
  // or slows down over minutes (a shared VM) weighs on all of them alike.
  std::vector<ArchitectureRun> paced_runs(architectures.size());
  std::vector<ArchitectureRun> full_runs(architectures.size());
  for (int round = 0; round < o.rounds; ++round) {
    for (std::size_t k = 0; k < architectures.size(); ++k) {
      const std::size_t i = (k + static_cast<std::size_t>(round)) % architectures.size();
      const Runner runner = architectures[i].second;
      append(paced_runs[i], runner(o, paced));
      if (o.full_speed_frames > 0) append(full_runs[i], runner(o, full));
    }
  }
  for (std::size_t i = 0; i < architectures.size(); ++i) {
    ArchitectureResult a;
    a.name = architectures[i].first;
    a.paced = summarise(paced_runs[i], &a.paced_latencies_ms);
    a.full_speed = summarise(full_runs[i], nullptr);
    a.error = paced_runs[i].error.empty() ? full_runs[i].error : paced_runs[i].error;
    report.architectures.push_back(std::move(a));
  }
  return report;
}

std::string report_table(const TransportE2eReport& r) {
  const auto& o = r.options;
  if (!r.error.empty()) return fmt::format("failed: {}\n", r.error);
  std::string t = fmt::format(
      "{} cameras x {} fps, {} workers x {} thread(s), {} frames per camera paced, {} unpaced, in {} "
      "rounds, frames {}\n",
      o.cameras, o.fps, o.workers, o.threads, o.frames, o.full_speed_frames, o.rounds,
      o.source.empty() ? fmt::format("{}x{} synthetic", o.width, o.height) : o.source);
  t += fmt::format("each camera's first {} frames of a round (the engines' warm-up) are left out of the figures\n",
                   kWarmUpFrames);
  t += fmt::format("one frame: camera {:.1f} ms, JPEG encode + decode {:.1f} ms, detector {:.1f} ms (medians)\n",
                   r.calibration.frame_ms, r.calibration.jpeg_ms, r.calibration.detector_ms);
  t += fmt::format("\npaced at {} fps per camera (latency)\n", o.fps);
  t += fmt::format("  {:<26} {:>17} {:>8} {:>8} {:>22} {:>9} {:>6}\n", "transport", "latency mean ± sd", "p50", "p99",
                   "outside inference", "memory", "CPU");
  for (const auto& a : r.architectures) {
    if (!a.error.empty()) {
      t += fmt::format("  {:<26} failed: {}\n", a.name, a.error);
      continue;
    }
    const auto& s = a.paced;
    t += fmt::format(
        "  {:<26} {:>8.1f} ± {:>5.1f} ms {:>5.1f} ms {:>5.1f} ms {:>8.2f} ms ({:>5.1f} %) {:>6.0f} MB {:>4.0f} %\n",
        a.name, s.mean_ms, s.sd_ms, s.p50_ms, s.p99_ms, s.outside_inference_ms,
        s.mean_ms > 0 ? 100 * s.outside_inference_ms / s.mean_ms : 0, s.peak_pss_mb, s.cpu_pct);
  }
  if (r.architectures.size() == 3 && r.architectures[0].error.empty() && r.architectures[2].error.empty()) {
    const auto& file = r.architectures[0].paced;
    const auto& shm = r.architectures[2].paced;
    t += fmt::format("  {:<26} latency {}, memory {}, CPU {}\n", "shared memory vs JPEG",
                     ratio(shm.mean_ms, file.mean_ms), ratio(shm.peak_pss_mb, file.peak_pss_mb),
                     ratio(shm.cpu_pct, file.cpu_pct));
    const auto& raw = r.architectures[1].paced;
    if (r.architectures[1].error.empty()) {
      t += fmt::format("  {:<26} latency {}, memory {}, CPU {}\n", "shared memory vs raw BGR",
                       ratio(shm.mean_ms, raw.mean_ms), ratio(shm.peak_pss_mb, raw.peak_pss_mb),
                       ratio(shm.cpu_pct, raw.cpu_pct));
    }
  }
  t += fmt::format(
      "  {:<26} latency {}, memory {}, CPU {}  ({:.1f} ± {:.1f} -> {:.1f} ± {:.1f} ms, {:.0f} -> {:.0f} MB, {:.0f} -> "
      "{:.0f} %)\n",
      "published (RTX 3060 box)", ratio(kPublishedShm.mean_ms, kPublishedFile.mean_ms),
      ratio(kPublishedShm.memory_mb, kPublishedFile.memory_mb), ratio(kPublishedShm.cpu_pct, kPublishedFile.cpu_pct),
      kPublishedFile.mean_ms, kPublishedFile.sd_ms, kPublishedShm.mean_ms, kPublishedShm.sd_ms,
      kPublishedFile.memory_mb, kPublishedShm.memory_mb, kPublishedFile.cpu_pct, kPublishedShm.cpu_pct);
  if (o.full_speed_frames > 0) {
    t += "\nunpaced (throughput; latency then includes queueing)\n";
    t += fmt::format("  {:<26} {:>10} {:>10} {:>9} {:>6} {:>12}\n", "transport", "throughput", "p50", "memory", "CPU",
                     "spool peak");
    for (const auto& a : r.architectures) {
      if (!a.error.empty()) continue;
      const auto& s = a.full_speed;
      t += fmt::format("  {:<26} {:>6.1f} fps {:>7.1f} ms {:>6.0f} MB {:>4.0f} % {:>9.1f} MB\n", a.name, s.fps,
                       s.p50_ms, s.peak_pss_mb, s.cpu_pct, s.peak_spool_mb);
    }
  }
  return t;
}

std::string report_json(const TransportE2eReport& r) {
  const auto summary = [](const LatencySummary& s) {
    return nlohmann::json{{"frames", s.frames},
                          {"latency_ms", {{"mean", s.mean_ms}, {"sd", s.sd_ms}, {"p50", s.p50_ms}, {"p99", s.p99_ms}}},
                          {"outside_inference_ms", s.outside_inference_ms},
                          {"outside_inference_share", s.mean_ms > 0 ? s.outside_inference_ms / s.mean_ms : 0},
                          {"fps", s.fps},
                          {"cpu_pct", s.cpu_pct},
                          {"pss_mb_peak", s.peak_pss_mb},
                          {"spool_mb_peak", s.peak_spool_mb}};
  };
  nlohmann::json archs = nlohmann::json::array();
  for (const auto& a : r.architectures) {
    archs.push_back(
        {{"transport", a.name}, {"paced", summary(a.paced)}, {"unpaced", summary(a.full_speed)}, {"error", a.error}});
  }
  const auto& o = r.options;
  return nlohmann::json{{"model", o.model.string()},
                        {"source", o.source.empty() ? fmt::format("synthetic {}x{}", o.width, o.height) : o.source},
                        {"cameras", o.cameras},
                        {"workers", o.workers},
                        {"threads", o.threads},
                        {"fps_per_camera", o.fps},
                        {"calibration_ms",
                         {{"camera_frame", r.calibration.frame_ms},
                          {"jpeg_encode_decode", r.calibration.jpeg_ms},
                          {"detector", r.calibration.detector_ms}}},
                        {"frames_per_camera", o.frames},
                        {"unpaced_frames_per_camera", o.full_speed_frames},
                        {"rounds", o.rounds},
                        {"architectures", archs}}
      .dump(2);
}

bool write_plot(const TransportE2eReport& r, const std::filesystem::path& png) {
  std::vector<LatencySeries> series;
  for (const auto& a : r.architectures) {
    if (a.error.empty()) series.push_back({a.name, a.paced_latencies_ms});
  }
  const auto& o = r.options;
  const std::string frames = o.source.empty() ? fmt::format("{}x{}", o.width, o.height) : o.source;
  return write_latency_plot(png,
                            fmt::format("{}, {} cameras x {} fps, {} workers, {}", frames, o.cameras, o.fps, o.workers,
                                        o.model.filename().string()),
                            series);
}

}  // namespace shmyolo::bench
