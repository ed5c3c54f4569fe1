#include "detect_bench.hpp"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>
#include <shmyolo/detect/detector.hpp>
#include <shmyolo/image/image_file.hpp>

#include "process_stats.hpp"

namespace shmyolo::bench {
namespace {

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

StageStats stats(std::vector<double> v) {
  if (v.empty()) return {};
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 9 / 10)]};
}

// A camera-like 1080p frame: gradients and a few solid shapes.
cv::Mat synthetic_frame() {
  cv::Mat img(1080, 1920, CV_8UC3);
  for (int y = 0; y < img.rows; ++y) {
    auto* row = img.ptr<std::uint8_t>(y);
    for (int x = 0; x < img.cols; ++x) {
      const auto i = static_cast<std::size_t>(x) * 3;
      row[i] = static_cast<std::uint8_t>(x / 8);
      row[i + 1] = static_cast<std::uint8_t>(y / 5);
      row[i + 2] = static_cast<std::uint8_t>((x + y) / 12);
    }
  }
  cv::rectangle(img, {300, 400}, {700, 900}, {40, 40, 200}, cv::FILLED);
  cv::circle(img, {1300, 600}, 220, {200, 180, 40}, cv::FILLED);
  return img;
}

detect::ImageView view_of(const cv::Mat& m) {
  return {m.data, m.cols, m.rows, m.step, detect::ChannelOrder::bgr};
}

// Each child runs its own single-threaded detector for `seconds`.
double processes_fps(const DetectBenchOptions& o, const cv::Mat& frame, int processes) {
  const std::uint64_t total = sum_over_processes(processes, [&](int /*child*/) -> std::uint64_t {
    auto mo = o.model;
    mo.threads = 1;
    auto d = detect::Detector::open(mo);
    if (!d) return 0;
    (void)d->detect(view_of(frame), {});  // warm-up
    const auto start = std::chrono::steady_clock::now();
    std::uint64_t n = 0;
    while (ms_since(start) < o.process_seconds * 1000.0) {
      if (d->detect(view_of(frame), {})) ++n;
    }
    return n;
  });
  return static_cast<double>(total) / o.process_seconds;
}

}  // namespace

DetectBenchReport run_detect_bench(const DetectBenchOptions& o) {
  DetectBenchReport r;
  r.model = o.model.path.string();
  cv::Mat frame;
  if (o.image.empty()) {
    frame = synthetic_frame();
  } else {
    auto img = image::load(o.image);
    if (!img) {
      r.error = img.error().message;
      return r;
    }
    frame = *img;
  }
  r.image_width = frame.cols;
  r.image_height = frame.rows;
  for (const int threads : o.threads) {
    auto mo = o.model;
    mo.threads = threads;
    const auto t0 = std::chrono::steady_clock::now();
    auto d = detect::Detector::open(mo);
    const double load_ms = ms_since(t0);
    if (!d) {
      r.error = d.error().message;
      return r;
    }
    if (r.runs.empty()) {
      r.load_ms = load_ms;
      r.engine = detect::to_string(d->info().engine);
      r.input_width = d->info().input_width;
      r.input_height = d->info().input_height;
    }
    std::vector<double> pre, inf, post;
    for (int i = 0; i < o.runs + 3; ++i) {
      auto out = d->detect(view_of(frame), {});
      if (!out) {
        r.error = out.error().message;
        return r;
      }
      if (i < 3) continue;  // warm-up: first runs allocate and tune
      pre.push_back(out->times.preprocess_ms);
      inf.push_back(out->times.inference_ms);
      post.push_back(out->times.postprocess_ms);
    }
    ThreadRun run{threads, stats(pre), stats(inf), stats(post), 0};
    run.overhead_pct = 100.0 * (run.preprocess.median_ms + run.postprocess.median_ms) / run.inference.median_ms;
    r.runs.push_back(run);
  }
  r.processes = o.processes;
  if (o.processes > 0) {
    r.single_process_fps = processes_fps(o, frame, 1);
    r.processes_fps = processes_fps(o, frame, o.processes);
  }
  return r;
}

std::string report_table(const DetectBenchReport& r) {
  if (!r.error.empty()) return "failed: " + r.error + "\n";
  std::string out = fmt::format("model {} ({}, input {}x{}), image {}x{}, load {:.0f} ms\n\n", r.model, r.engine,
                                r.input_width, r.input_height, r.image_width, r.image_height, r.load_ms);
  out +=
      "| threads | preprocess ms (p50 / p90) | inference ms (p50 / p90) | decode+NMS ms (p50 / p90) | pre+post vs "
      "inference |\n";
  out += "|---|---|---|---|---|\n";
  for (const auto& t : r.runs) {
    out += fmt::format("| {} | {:.2f} / {:.2f} | {:.1f} / {:.1f} | {:.2f} / {:.2f} | {:.1f} % |\n", t.threads,
                       t.preprocess.median_ms, t.preprocess.p90_ms, t.inference.median_ms, t.inference.p90_ms,
                       t.postprocess.median_ms, t.postprocess.p90_ms, t.overhead_pct);
  }
  if (r.processes > 0) {
    out += fmt::format("\n{} single-threaded detectors in {} processes: {:.1f} images/s (1 process: {:.1f}, x{:.2f})\n",
                       r.processes, r.processes, r.processes_fps, r.single_process_fps,
                       r.single_process_fps > 0 ? r.processes_fps / r.single_process_fps : 0.0);
  }
  return out;
}

std::string report_json(const DetectBenchReport& r) {
  nlohmann::json j{{"model", r.model},
                   {"engine", r.engine},
                   {"input", {r.input_width, r.input_height}},
                   {"image", {r.image_width, r.image_height}},
                   {"load_ms", r.load_ms},
                   {"processes", r.processes},
                   {"processes_fps", r.processes_fps},
                   {"single_process_fps", r.single_process_fps}};
  j["threads"] = nlohmann::json::array();
  for (const auto& t : r.runs) {
    j["threads"].push_back({{"threads", t.threads},
                            {"preprocess_ms", {{"p50", t.preprocess.median_ms}, {"p90", t.preprocess.p90_ms}}},
                            {"inference_ms", {{"p50", t.inference.median_ms}, {"p90", t.inference.p90_ms}}},
                            {"postprocess_ms", {{"p50", t.postprocess.median_ms}, {"p90", t.postprocess.p90_ms}}},
                            {"overhead_pct", t.overhead_pct}});
  }
  if (!r.error.empty()) j["error"] = r.error;
  return j.dump(2);
}

}  // namespace shmyolo::bench
