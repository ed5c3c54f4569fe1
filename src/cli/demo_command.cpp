// shmyolo demo: synthetic cameras -> frame rings in shared memory -> a pool
// of worker processes running the bundled detector on the slots in place,
// with live per-camera fps, latency, and precision/recall against the
// renderer's ground truth (a worker recomputes a frame's true boxes from the
// camera's seed and the frame index the camera publishes with it).
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <optional>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <shmyolo/bus/ring.hpp>
#include <shmyolo/detect/detector.hpp>
#include <shmyolo/ingest/slot_letterbox.hpp>
#include <shmyolo/ingest/synthetic_camera.hpp>
#include <shmyolo/stats/latency_histogram.hpp>
#include <shmyolo/stats/scoring.hpp>

#include "bundled_model.hpp"
#include "commands.hpp"

namespace shmyolo::cli {
namespace {

struct DemoOptions {
  int cameras = 2;
  int workers = 2;
  double fps = 10;
  double duration = 30;  // 0: until Ctrl-C
  int width = 640;
  int height = 480;
  std::uint64_t seed = 1;
  std::string model;
  int threads = 1;
  // The bundled model's scores estimate the box's IoU (quality focal loss),
  // so they run lower than Ultralytics models'; 0.5 is its operating point on
  // the held-out set (docs/models.md).
  float confidence = 0.5F;
  std::string json;
  bool scored = true;  // set from the model: its classes are the synthetic camera's
};

// Shared by the demo's processes through one anonymous MAP_SHARED mapping;
// every field is a lock-free atomic. Relaxed ordering throughout: these are
// independent counters the parent only displays.
struct CameraStats {
  std::atomic<std::uint64_t> processed;
  std::atomic<std::uint64_t> true_positives;
  std::atomic<std::uint64_t> false_positives;
  std::atomic<std::uint64_t> false_negatives;
  stats::LatencyHistogram latency;    // capture -> detections, end to end
  stats::LatencyHistogram inference;  // the detector alone
};

struct SharedStats {
  std::atomic<int> failed_workers;
  CameraStats camera[64];  // --cameras is at most 64
};

volatile std::sig_atomic_t g_stop = 0;
void on_stop(int) {
  g_stop = 1;
}

void stop_on_signals() {
  std::signal(SIGTERM, on_stop);
  std::signal(SIGINT, on_stop);
}

ingest::SyntheticCameraOptions camera_options(const DemoOptions& o, int camera) {
  return {.width = o.width,
          .height = o.height,
          .fps = o.fps,
          .seed = o.seed + static_cast<std::uint64_t>(camera),
          .min_objects = 1,
          .max_objects = 4};
}

// One camera: render a frame (its "capture and decode"), letterbox it
// straight into a free slot, publish with the frame index and the placement.
[[noreturn]] void camera_main(const std::string& ring_name, int camera, const DemoOptions& o) {
  stop_on_signals();
  auto ring = bus::FrameRing::attach(ring_name);
  if (!ring) _exit(fail(ring.error().message));
  auto producer = bus::Producer::attach(*ring);
  if (!producer) _exit(fail(producer.error().message));
  const ingest::SyntheticCamera source(camera_options(o, camera));
  cv::Mat frame(o.height, o.width, CV_8UC3);
  std::vector<ingest::GroundTruth> truth;  // not sent: workers recompute it
  const auto period = std::chrono::nanoseconds(static_cast<std::int64_t>(1e9 / o.fps));
  auto next = std::chrono::steady_clock::now();
  for (std::uint64_t index = 0; g_stop == 0; ++index) {
    std::this_thread::sleep_until(next);
    next += period;
    bus::FrameMeta meta;
    meta.capture_unix_ns = bus::unix_ns();
    meta.capture_mono_ns = bus::monotonic_ns();
    source.render(index, frame.data, frame.step, truth);
    auto slot = producer->acquire();
    if (!slot) continue;  // every slot is being read: this frame is dropped
    const auto& g = ring->geometry();
    const auto placed =
        ingest::letterbox_into_slot({.data = frame.data, .width = o.width, .height = o.height, .stride = frame.step},
                                    {.data = reinterpret_cast<std::uint8_t*>(slot->pixels().data()),
                                     .width = static_cast<int>(g.width),
                                     .height = static_cast<int>(g.height),
                                     .stride = g.row_stride});
    meta.source_width = static_cast<std::uint32_t>(o.width);
    meta.source_height = static_cast<std::uint32_t>(o.height);
    meta.scale = placed.scale_x;
    meta.pad_x = static_cast<float>(placed.pad_x);
    meta.pad_y = static_cast<float>(placed.pad_y);
    meta.user[0] = index;
    meta.user[1] = static_cast<std::uint64_t>(camera);
    producer->publish(*slot, meta);
  }
  _exit(0);
}

// Detections in slot pixels back to the camera's frame.
void to_source(std::vector<detect::Detection>& detections, const bus::FrameMeta& meta) {
  const auto w = static_cast<float>(meta.source_width);
  const auto h = static_cast<float>(meta.source_height);
  for (auto& d : detections) {
    d.box.x1 = std::clamp((d.box.x1 - meta.pad_x) / meta.scale, 0.0F, w);
    d.box.x2 = std::clamp((d.box.x2 - meta.pad_x) / meta.scale, 0.0F, w);
    d.box.y1 = std::clamp((d.box.y1 - meta.pad_y) / meta.scale, 0.0F, h);
    d.box.y2 = std::clamp((d.box.y2 - meta.pad_y) / meta.scale, 0.0F, h);
  }
}

struct Worker {
  std::vector<bus::FrameRing> rings;
  std::vector<bus::Consumer> consumers;
  std::vector<bus::Consumer*> pointers;
  std::vector<ingest::SyntheticCamera> cameras;  // to recompute each frame's truth
};

// Runs the detector on one claimed slot, in place, and scores it.
void process(bus::Claim& claim, detect::Detector& detector, const Worker& w, const DemoOptions& o,
             SharedStats& shared) {
  const auto& meta = claim.info().meta;
  const auto camera = static_cast<std::size_t>(meta.user[1] % w.cameras.size());
  const auto& g = w.rings[camera].geometry();
  auto out = detector.detect({.data = reinterpret_cast<const std::uint8_t*>(claim.pixels().data()),
                              .width = static_cast<int>(g.width),
                              .height = static_cast<int>(g.height),
                              .stride = g.row_stride},
                             {.confidence = o.confidence});
  const std::uint64_t done = bus::monotonic_ns();
  if (!out) {
    fail(out.error().message);
    return;
  }
  to_source(out->detections, meta);
  stats::Tally tally;
  if (o.scored) {
    std::vector<ingest::GroundTruth> truth;
    w.cameras[camera].truth(meta.user[0], truth);
    tally = stats::score(out->detections, truth);
  }
  CameraStats& s = shared.camera[camera];
  s.true_positives.fetch_add(tally.true_positives, std::memory_order_relaxed);
  s.false_positives.fetch_add(tally.false_positives, std::memory_order_relaxed);
  s.false_negatives.fetch_add(tally.false_negatives, std::memory_order_relaxed);
  s.latency.record_ns(done - meta.capture_mono_ns);
  s.inference.record_ns(static_cast<std::uint64_t>(out->times.inference_ms * 1e6));
  s.processed.fetch_add(1, std::memory_order_relaxed);
}

[[noreturn]] void worker_main(const std::vector<std::string>& names, const DemoOptions& o, SharedStats& shared) {
  stop_on_signals();
  auto detector = detect::Detector::open({.path = o.model, .threads = o.threads});
  if (!detector) {
    shared.failed_workers.fetch_add(1, std::memory_order_relaxed);
    _exit(fail(detector.error().message));
  }
  Worker w;
  for (std::size_t c = 0; c < names.size(); ++c) {
    auto ring = bus::FrameRing::attach(names[c]);
    if (!ring) _exit(fail(ring.error().message));
    w.rings.push_back(std::move(*ring));
    w.cameras.emplace_back(camera_options(o, static_cast<int>(c)));
  }
  w.consumers.reserve(w.rings.size());
  for (auto& r : w.rings) w.consumers.emplace_back(r);
  for (auto& c : w.consumers) w.pointers.push_back(&c);
  while (g_stop == 0) {
    auto claim = bus::claim_any(w.pointers, std::chrono::milliseconds(200));
    if (claim) process(*claim, *detector, w, o, shared);
  }
  _exit(0);
}

struct ModelFacts {
  int input_width = 0;
  int input_height = 0;
  int knows_the_shapes = 0;  // its classes are the synthetic camera's: precision and recall mean something
};

// What the demo needs to know of the model, learnt in a child process so
// that the parent forks its workers before any inference engine has started
// threads. Empty when the model cannot be opened (the child said why).
std::optional<ModelFacts> probe_model(const std::string& model) {
  int fds[2];
  if (pipe(fds) != 0) return std::nullopt;
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    auto d = detect::Detector::open({.path = model});
    if (!d) _exit(fail(d.error().message));
    const ModelFacts facts{d->info().input_width, d->info().input_height,
                           d->info().names == ingest::SyntheticCamera::class_names() ? 1 : 0};
    _exit(write(fds[1], &facts, sizeof facts) == sizeof facts ? 0 : 1);
  }
  close(fds[1]);
  ModelFacts facts;
  const auto got = read(fds[0], &facts, sizeof facts);
  close(fds[0]);
  waitpid(pid, nullptr, 0);
  if (got != static_cast<ssize_t>(sizeof facts)) return std::nullopt;
  return facts;
}

void print_camera_line(std::size_t c, const bus::FrameRing& ring, const CameraStats& s, std::uint64_t last,
                       bool scored) {
  const std::uint64_t done = s.processed.load(std::memory_order_relaxed);
  const stats::Tally t{s.true_positives.load(std::memory_order_relaxed),
                       s.false_positives.load(std::memory_order_relaxed),
                       s.false_negatives.load(std::memory_order_relaxed)};
  fmt::print(
      "  cam{}: {:>3} fps  frames {:>6}  dropped {:>4}  latency p50 {:>6.1f} ms p99 {:>6.1f} ms  "
      "inference p50 {:>5.1f} ms{}\n",
      c, done - last, done, ring.header().counters.dropped.load(std::memory_order_relaxed),
      s.latency.percentile_ms(0.5), s.latency.percentile_ms(0.99), s.inference.percentile_ms(0.5),
      scored ? fmt::format("  precision {:.3f} recall {:.3f}", t.precision(), t.recall()) : "");
}

nlohmann::json summarise(const DemoOptions& o, const SharedStats& shared, double elapsed) {
  stats::LatencyHistogram latency;
  stats::Tally total;
  std::uint64_t frames = 0;
  nlohmann::json per_camera = nlohmann::json::array();
  for (int c = 0; c < o.cameras; ++c) {
    const CameraStats& s = shared.camera[c];
    latency.merge(s.latency);
    const stats::Tally t{s.true_positives.load(), s.false_positives.load(), s.false_negatives.load()};
    total += t;
    frames += s.processed.load();
    per_camera.push_back({{"camera", fmt::format("cam{}", c)},
                          {"frames", s.processed.load()},
                          {"fps", static_cast<double>(s.processed.load()) / elapsed},
                          {"latency_ms_p50", s.latency.percentile_ms(0.5)},
                          {"latency_ms_p99", s.latency.percentile_ms(0.99)},
                          {"precision", o.scored ? nlohmann::json(t.precision()) : nlohmann::json()},
                          {"recall", o.scored ? nlohmann::json(t.recall()) : nlohmann::json()}});
  }
  return {{"cameras", o.cameras},
          {"workers", o.workers},
          {"model", o.model},
          {"frames", frames},
          {"fps", static_cast<double>(frames) / elapsed},
          {"latency_ms_p50", latency.percentile_ms(0.5)},
          {"latency_ms_p99", latency.percentile_ms(0.99)},
          {"precision", o.scored ? nlohmann::json(total.precision()) : nlohmann::json()},
          {"recall", o.scored ? nlohmann::json(total.recall()) : nlohmann::json()},
          {"per_camera", per_camera}};
}

void watch(const DemoOptions& o, const std::vector<bus::FrameRing>& rings, const SharedStats& shared) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::uint64_t> last(rings.size(), 0);
  const auto running = [&] {
    return g_stop == 0 && shared.failed_workers.load(std::memory_order_relaxed) < o.workers &&
           (o.duration <= 0 || std::chrono::steady_clock::now() - start < std::chrono::duration<double>(o.duration));
  };
  auto tick = start;
  while (running()) {
    tick += std::chrono::seconds(1);
    while (running() && std::chrono::steady_clock::now() < tick)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!running()) break;
    for (std::size_t c = 0; c < rings.size(); ++c) {
      print_camera_line(c, rings[c], shared.camera[c], last[c], o.scored);
      last[c] = shared.camera[c].processed.load(std::memory_order_relaxed);
    }
    std::fflush(stdout);
  }
}

int run_demo(DemoOptions o) {
  if (o.model.empty()) o.model = bundled_model_path().string();
  const auto model = probe_model(o.model);
  if (!model) return 1;  // the probe has said why
  o.scored = model->knows_the_shapes != 0;
  std::vector<bus::FrameRing> rings;
  std::vector<std::string> names;
  for (int c = 0; c < o.cameras; ++c) {
    bus::RingOptions ro;
    ro.name = fmt::format("shmyolo.demo-{}.cam{}", ::getpid(), c);
    ro.width = static_cast<std::uint32_t>(model->input_width);
    ro.height = static_cast<std::uint32_t>(model->input_height);
    ro.slot_count = static_cast<std::uint32_t>(o.workers + 2);  // one per worker, one being written, one ready
    auto ring = bus::FrameRing::create(ro);
    if (!ring) return fail(ring.error().message);
    names.push_back(ro.name);
    rings.push_back(std::move(*ring));
  }
  void* mem = mmap(nullptr, sizeof(SharedStats), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return fail("cannot map the statistics area");
  auto* shared = new (mem) SharedStats{};
  std::vector<pid_t> children;
  for (int w = 0; w < o.workers; ++w) {
    const pid_t pid = fork();
    if (pid == 0) worker_main(names, o, *shared);
    children.push_back(pid);
  }
  for (int c = 0; c < o.cameras; ++c) {
    const pid_t pid = fork();
    if (pid == 0) camera_main(names[static_cast<std::size_t>(c)], c, o);
    children.push_back(pid);
  }
  fmt::print(
      "shmyolo demo: {} synthetic cameras ({}x{} at {} fps) -> frame rings in {} ({}x{} slots) -> {} workers "
      "running {}\n",
      o.cameras, o.width, o.height, o.fps, bus::default_shm_dir().string(), model->input_width, model->input_height,
      o.workers, o.model);
  if (!o.scored) fmt::print("(the model's classes are not the synthetic camera's: no precision or recall)\n");
  std::fflush(stdout);
  stop_on_signals();
  const auto start = std::chrono::steady_clock::now();
  watch(o, rings, *shared);
  for (const pid_t pid : children) kill(pid, SIGTERM);
  for (const pid_t pid : children) waitpid(pid, nullptr, 0);
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const nlohmann::json summary = summarise(o, *shared, elapsed);
  const bool workers_failed = shared->failed_workers.load() > 0;
  munmap(mem, sizeof(SharedStats));
  fmt::print("summary: {}\n", summary.dump());
  if (!o.json.empty()) {
    std::ofstream out(o.json);
    out << summary.dump(2) << '\n';
    if (!out) return fail(fmt::format("cannot write {}: check the folder exists and is writable", o.json));
  }
  return workers_failed ? fail("workers could not start; see the messages above") : 0;
}

}  // namespace

void add_demo_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<DemoOptions>();
  auto* demo = app.add_subcommand("demo", "Synthetic cameras through the frame bus to detector workers, live stats");
  demo->add_option("--cameras", o->cameras, "Synthetic cameras")->check(CLI::Range(1, 64));
  demo->add_option("--workers", o->workers, "Worker processes")->check(CLI::Range(1, 64));
  demo->add_option("--fps", o->fps, "Frames per second per camera")->check(CLI::Range(0.1, 240.0));
  demo->add_option("--duration", o->duration, "Seconds to run (0: until Ctrl-C)")->check(CLI::Range(0.0, 1e7));
  demo->add_option("--width", o->width, "Camera frame width")->check(CLI::Range(32, 8192));
  demo->add_option("--height", o->height, "Camera frame height")->check(CLI::Range(32, 8192));
  demo->add_option("--seed", o->seed, "Seed of the first camera's scene");
  demo->add_option("--model", o->model, "Model (default: the bundled shapes detector)");
  demo->add_option("--threads", o->threads, "Inference threads per worker")->check(CLI::Range(1, 64));
  demo->add_option("--conf", o->confidence, "Confidence threshold")->check(CLI::Range(0.0, 1.0));
  demo->add_option("--json", o->json, "Write the summary as JSON to this file");
  demo->callback([o, &exit_code] { exit_code = run_demo(*o); });
}

}  // namespace shmyolo::cli
