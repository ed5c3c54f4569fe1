#include "transport_e2e.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iterator>
#include <numeric>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
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
    config::CameraConfig cam;
    cam.name = fmt::format("cam{}", i);
    // Camera i draws the same frames in every run: the same seed.
    cam.source =
        o.source.empty() ? fmt::format("synthetic:?width={}&height={}&seed={}", o.width, o.height, 100 + i) : o.source;
    cam = config::parse_source(cam, std::filesystem::current_path()).value_or(cam);
    cam.fps = paced ? o.fps : 0;
    cam.delivery = bus::Delivery::queue;  // neither architecture drops a frame
    cam.slots = o.slots;
    cam.loop = true;
    cam.frames = static_cast<std::uint64_t>(paced ? o.frames : o.full_speed_frames);
    c.cameras.push_back(cam);
  }
  return c;
}

double cores() {
  return static_cast<double>(std::max(1U, std::thread::hardware_concurrency()));
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

TransportE2eReport run_transport_e2e(const TransportE2eOptions& o) {
  TransportE2eReport report;
  report.options = o;
  const std::vector<std::pair<std::string, Runner>> architectures{
      {"file I/O, JPEG", jpeg_runner}, {"file I/O, raw BGR", raw_runner}, {"shared memory (shmyolo)", shm_runner}};
  const config::PipelineConfig paced = base_config(o, true);
  const config::PipelineConfig full = base_config(o, false);
  // The model is opened once up front (in a child), so a bad one is one
  // message, not one per process.
  if (!pipeline::plan_shm(paced)) {
    report.error = fmt::format("cannot run {}", o.model.string());
    return report;
  }
  for (const auto& [name, runner] : architectures) {
    ArchitectureResult a;
    a.name = name;
    const ArchitectureRun p = runner(o, paced);
    a.paced = summarise(p, &a.paced_latencies_ms);
    a.error = p.error;
    if (a.error.empty() && o.full_speed_frames > 0) {
      const ArchitectureRun f = runner(o, full);
      a.full_speed = summarise(f, nullptr);
      a.error = f.error;
    }
    report.architectures.push_back(std::move(a));
  }
  return report;
}

std::string report_table(const TransportE2eReport& r) {
  const auto& o = r.options;
  if (!r.error.empty()) return fmt::format("failed: {}\n", r.error);
  std::string t =
      fmt::format("{} cameras x {} fps, {} workers x {} thread(s), {} frames per camera paced, {} unpaced, frames {}\n",
                  o.cameras, o.fps, o.workers, o.threads, o.frames, o.full_speed_frames,
                  o.source.empty() ? fmt::format("{}x{} synthetic", o.width, o.height) : o.source);
  t += fmt::format("each camera's first {} frames (the engines' warm-up) are left out of the figures\n", kWarmUpFrames);
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
                        {"frames_per_camera", o.frames},
                        {"unpaced_frames_per_camera", o.full_speed_frames},
                        {"architectures", archs}}
      .dump(2);
}

bool write_plot(const TransportE2eReport& r, const std::filesystem::path& png) {
  std::vector<LatencySeries> series;
  for (const auto& a : r.architectures) {
    if (a.error.empty()) series.push_back({a.name, a.paced_latencies_ms});
  }
  const auto& o = r.options;
  return write_latency_plot(
      png, fmt::format("{} cameras x {} fps, {} workers, {}", o.cameras, o.fps, o.workers, o.model.filename().string()),
      series);
}

}  // namespace shmyolo::bench
