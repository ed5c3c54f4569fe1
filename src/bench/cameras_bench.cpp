#include "cameras_bench.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <shmyolo/config/pipeline_config.hpp>
#include <shmyolo/ingest/video_clip.hpp>
#include <shmyolo/pipeline/supervisor.hpp>

#include "decode_bench.hpp"
#include "pipeline_bench.hpp"
#include "process_stats.hpp"

namespace shmyolo::bench {
namespace {

struct Way {
  const char* name;
  config::Decoder decoder;
  config::DecodeMode mode;
};

constexpr std::array<Way, 4> kWays{{{"ffmpeg all", config::Decoder::ffmpeg, config::DecodeMode::all},
                                    {"ffmpeg keyframes", config::Decoder::ffmpeg, config::DecodeMode::keyframes},
                                    {"ffmpeg auto", config::Decoder::ffmpeg, config::DecodeMode::automatic},
                                    {"opencv all", config::Decoder::opencv, config::DecodeMode::all}}};

// The clip the run uses: the given file, or a 1080p30 H.264 clip with a key
// frame every second, made once in the temporary folder.
std::string clip_for(const CamerasBenchOptions& o, std::string& error) {
  if (!o.source.empty()) return o.source;
  const auto path = std::filesystem::temp_directory_path() / "shmyolo-bench-cameras-1080p30.mp4";
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) return path.string();
  const auto partial = path.string() + fmt::format(".{}.mp4", getpid());
  const auto written =
      ingest::write_synthetic_clip({.path = partial, .width = 1920, .height = 1080, .fps = 30, .frames = 600});
  if (!written) {
    error = written.error();
    return {};
  }
  std::filesystem::rename(partial, path, ec);
  return path.string();
}

config::PipelineConfig config_for(const CamerasBenchOptions& o, const std::string& clip, const Way& way, int cameras) {
  config::PipelineConfig c;
  c.name = fmt::format("cams{}", getpid());
  c.shm_dir = o.shm_dir;
  c.model.options.path = o.model;
  c.workers.count = o.workers;
  c.outputs.stats_interval_s = 3600;  // quiet: the bench prints the figures
  for (int i = 0; i < cameras; ++i) {
    config::CameraConfig cam = bench_camera(i, clip, 0, 0);
    cam.delivery = bus::Delivery::latest;
    cam.fps = o.fps;
    cam.realtime = o.realtime;
    cam.decoder = way.decoder;
    cam.decode = way.mode;
    c.cameras.push_back(cam);
  }
  return c;
}

double number(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>() : 0;
}

// Per-camera figures of the final statistics into the run, as rates over
// the time the cameras ran: from when every worker was ready (the model
// loaded and run once; cameras wait for it) to the end.
void read_cameras(const nlohmann::json& s, CameraWayRun& r) {
  const auto& cams = s["cameras"];
  const double seconds = std::max(number(s, "elapsed_s") - number(s, "workers_ready_s"), 1e-9);
  const double n = static_cast<double>(std::max<std::size_t>(cams.size(), 1));
  std::vector<double> rates;
  double cpu_s = 0;
  double decoded = 0;
  for (const auto& c : cams) {
    rates.push_back(number(c, "frames_out") / seconds);
    cpu_s += number(c, "cpu_s");
    decoded += number(c, "decoded");
    r.skipped_per_s += number(c, "skipped") / seconds / n;
    r.dropped_per_s += number(c, "dropped") / seconds / n;
    r.keyframes_only += number(c, "keyframes_only_s") / seconds / n;
  }
  // The workers' share is over the whole run; they work only once the cameras run.
  double workers_pct = 0;
  for (const auto& w : s["cpu_percent"]["workers"]) workers_pct += w.is_number() ? w.get<double>() : 0;
  r.workers_cpu_pct = workers_pct * number(s, "elapsed_s") / seconds;
  const double mean = rates.empty() ? 0 : std::accumulate(rates.begin(), rates.end(), 0.0) / n;
  for (const double x : rates) r.fairness = std::max(r.fairness, mean > 0 ? std::abs(x - mean) / mean : 0);
  r.decoded_per_s = decoded / seconds / n;
  r.ingest_cpu_pct = 100 * cpu_s / seconds / n;
  r.ingest_ms_per_decoded = decoded > 0 ? cpu_s * 1000 / decoded : 0;
  r.results_per_s = number(s["total"], "frames_out") / seconds;
  const auto& e2e = s["total"]["latency_ms"]["end_to_end"];
  r.latency_p50_ms = number(e2e, "p50");
  r.latency_p99_ms = number(e2e, "p99");
}

CameraWayRun run_once(const CamerasBenchOptions& o, const std::string& clip, const Way& way, int cameras) {
  CameraWayRun r;
  r.way = way.name;
  r.keyframes = way.mode == config::DecodeMode::keyframes;
  r.cameras = cameras;
  const PipelineChildRun run = run_pipeline_child(config_for(o, clip, way, cameras), o.seconds);
  r.pss_mb = run.peak_pss_mb;
  if (run.stats.is_null()) {
    r.error = "the pipeline failed; run it with shmyolo run to see why";
    return r;
  }
  const auto& s = run.stats;
  read_cameras(s, r);
  const double cores = std::max(1U, std::thread::hardware_concurrency());
  r.decoders_share = r.ingest_cpu_pct / 100 * cameras / cores;
  return r;
}

// The decoder's floors, read the way the cameras read: in real time, 5 s of
// every frame, 10 s of key frames only (10 key frames of the made clip);
// then the bare detector's throughput.
CamerasBenchBaselines measure_baselines(const CamerasBenchOptions& o, const std::string& source, std::string& why) {
  CamerasBenchBaselines b;
  b.floor_ms = decode_floor({.source = source, .frames = o.realtime ? 150 : 300, .paced = o.realtime}, false, why)
                   .cpu_ms_per_frame;
  const DecodeWay keys = decode_floor({.source = source, .frames = 300, .paced = o.realtime}, true, why);
  if (keys.decoded > 0) {
    b.key_interval = static_cast<double>(keys.frames) / static_cast<double>(keys.decoded);
    b.key_floor_ms = keys.cpu_ms_per_frame * b.key_interval;
  }
  if (!why.empty()) return b;
  // No detector opens in this process: the pipelines fork from it.
  PipelineBenchOptions bare;
  bare.model = o.model;
  bare.workers = o.workers;
  b.bare_fps = bare_fps(bare, false);
  if (b.bare_fps <= 0) {
    why = fmt::format("cannot run {}: see shmyolo models inspect {}", o.model.string(), o.model.string());
  }
  return b;
}

// This machine is shared: of the baselines measured before and after the
// runs, the quieter ones (the cheaper decoding, the faster detector), which
// hold the runs to the stricter ratios.
CamerasBenchBaselines quieter(const CamerasBenchBaselines& a, const CamerasBenchBaselines& b) {
  return {.floor_ms = std::min(a.floor_ms, b.floor_ms),
          .key_floor_ms = std::min(a.key_floor_ms, b.key_floor_ms),
          .key_interval = a.key_interval,
          .bare_fps = std::max(a.bare_fps, b.bare_fps)};
}

// Each run against the baselines: ingest CPU against the floor (key frames
// only: against decoding only key frames), and the results target from the
// share of the cores the decoders left.
void hold_against(const CamerasBenchBaselines& b, CameraWayRun& r) {
  const double floor = r.keyframes ? b.key_floor_ms : b.floor_ms;
  r.ingest_vs_floor = floor > 0 ? r.ingest_ms_per_decoded / floor : 0;
  r.target_per_s = 0.8 * b.bare_fps * std::clamp(1 - r.decoders_share, 0.0, 1.0);
}

}  // namespace

CamerasBenchReport run_cameras_bench(const CamerasBenchOptions& o) {
  CamerasBenchReport r;
  r.source = clip_for(o, r.error);
  if (r.source.empty()) return r;
  std::string why;
  const CamerasBenchBaselines before = measure_baselines(o, r.source, why);
  if (!why.empty()) {
    r.error = why;
    return r;
  }
  for (const int n : o.cameras) {
    for (const Way& way : kWays) r.runs.push_back(run_once(o, r.source, way, n));
  }
  const CamerasBenchBaselines after = measure_baselines(o, r.source, why);
  r.baselines = why.empty() ? quieter(before, after) : before;
  for (auto& run : r.runs) hold_against(r.baselines, run);
  return r;
}

std::string cameras_table(const CamerasBenchOptions& o, const CamerasBenchReport& r) {
  if (!r.error.empty()) return fmt::format("failed: {}\n", r.error);
  const CamerasBenchBaselines& b = r.baselines;
  std::string t = fmt::format(
      "shmyolo bench cameras: {} at {} fps{}, {} workers, {:.0f} s per run\n"
      "  the decoder alone: {:.2f} ms of CPU per frame; key frames only {:.1f} ms per key frame, {:.2f} of every "
      "frame's cost\n  the bare detector: {:.1f} results/s on {} processes (each the quieter of before and after "
      "the runs)\n",
      r.source, o.fps, o.realtime ? " (real time)" : "", o.workers, o.seconds, b.floor_ms, b.key_floor_ms,
      b.key_share(), b.bare_fps, o.workers);
  t += fmt::format("  {:>4} {:<17} {:>9} {:>8} {:>9} {:>8} {:>9} {:>6} {:>8} {:>8} {:>8} {:>6} {:>15} {:>7}\n", "cams",
                   "way", "results/s", "target", "ingest%", "x floor", "workers%", "fair", "decoded", "skipped",
                   "dropped", "keys", "e2e p50/p99 ms", "PSS MB");
  for (const auto& x : r.runs) {
    if (!x.error.empty()) {
      t += fmt::format("  {:>4} {:<17} failed: {}\n", x.cameras, x.way, x.error);
      continue;
    }
    t += fmt::format(
        "  {:>4} {:<17} {:>9.1f} {:>8.1f} {:>9.1f} {:>8.2f} {:>9.0f} {:>5.0f}% {:>8.1f} {:>8.1f} {:>8.1f} {:>5.0f}% "
        "{:>7.0f}/{:<7.0f} {:>7.0f}\n",
        x.cameras, x.way, x.results_per_s, x.target_per_s, x.ingest_cpu_pct, x.ingest_vs_floor, x.workers_cpu_pct,
        100 * x.fairness, x.decoded_per_s, x.skipped_per_s, x.dropped_per_s, 100 * x.keyframes_only, x.latency_p50_ms,
        x.latency_p99_ms, x.pss_mb);
  }
  t += "  ingest% and the counters are per camera (per second); x floor: ingest CPU / (decoder's cost x frames "
       "decoded),\n  for key frames only the decoder's cost of a key frame with key frames only;\n  workers%: all "
       "workers' CPU, of one core; fair: the largest gap of a camera's results/s from the "
       "mean; keys: time on key frames only\n";
  return t;
}

std::string cameras_json(const CamerasBenchReport& r) {
  nlohmann::json runs = nlohmann::json::array();
  for (const auto& x : r.runs) {
    runs.push_back({{"way", x.way},
                    {"cameras", x.cameras},
                    {"results_per_s", x.results_per_s},
                    {"target_per_s", x.target_per_s},
                    {"ingest_cpu_percent_per_camera", x.ingest_cpu_pct},
                    {"ingest_vs_floor", x.ingest_vs_floor},
                    {"workers_cpu_percent", x.workers_cpu_pct},
                    {"fairness", x.fairness},
                    {"decoded_per_s", x.decoded_per_s},
                    {"skipped_per_s", x.skipped_per_s},
                    {"dropped_per_s", x.dropped_per_s},
                    {"keyframes_only", x.keyframes_only},
                    {"latency_p50_ms", x.latency_p50_ms},
                    {"latency_p99_ms", x.latency_p99_ms},
                    {"pss_mb", x.pss_mb},
                    {"error", x.error}});
  }
  const CamerasBenchBaselines& b = r.baselines;
  return nlohmann::json{{"source", r.source},         {"floor_ms", b.floor_ms}, {"key_floor_ms", b.key_floor_ms},
                        {"key_share", b.key_share()}, {"bare_fps", b.bare_fps}, {"runs", runs}}
      .dump(2);
}

}  // namespace shmyolo::bench
