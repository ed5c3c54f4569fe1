// shmyolo demo: the real pipeline (`shmyolo run`) on synthetic cameras and
// the bundled detector. Ingest processes letterbox each rendered frame into
// a ring slot, workers run the model on the slot in place, and the
// aggregator scores every frame against the renderer's truth, so the live
// statistics show precision and recall, and the tracks' MOTA and IDF1,
// beside fps and latency.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <shmyolo/config/pipeline_config.hpp>
#include <shmyolo/pipeline/supervisor.hpp>

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
};

config::PipelineConfig demo_config(const DemoOptions& o) {
  config::PipelineConfig c;
  c.name = fmt::format("demo{}", getpid());
  c.model.options.path = o.model;
  c.model.confidence = o.confidence;
  c.workers.count = o.workers;
  c.workers.threads = o.threads;
  c.outputs.stats_interval_s = 1;  // a live line per camera every second
  for (int i = 0; i < o.cameras; ++i) {
    config::CameraConfig cam;
    cam.name = fmt::format("cam{}", i);
    cam.source =
        fmt::format("synthetic:?width={}&height={}&seed={}", o.width, o.height, o.seed + static_cast<std::uint64_t>(i));
    auto parsed = config::parse_source(cam, std::filesystem::current_path());
    if (parsed) cam = *parsed;
    cam.fps = o.fps;
    c.cameras.push_back(cam);
  }
  return c;
}

// The demo's summary: the pipeline's final statistics under their own names
// (docs/pipeline.md#statistics), with what the demo ran.
nlohmann::json summarise(const DemoOptions& o, const nlohmann::json& stats) {
  nlohmann::json per_camera = nlohmann::json::array();
  for (const auto& cam : stats["cameras"]) {
    nlohmann::json c{{"camera", cam["camera"]},
                     {"frames_out", cam["frames_out"]},
                     {"fps_out", cam["fps_out"]},
                     {"dropped", cam["dropped"]},
                     {"latency_ms", {{"end_to_end", cam["latency_ms"]["end_to_end"]}}}};
    for (const char* key : {"precision", "recall", "mota", "idf1", "id_switches"}) {
      if (cam.contains(key)) c[key] = cam[key];
    }
    per_camera.push_back(c);
  }
  nlohmann::json summary{{"cameras", o.cameras}, {"workers", o.workers}, {"model", o.model}};
  summary.update(stats["total"]);
  summary["per_camera"] = per_camera;
  return summary;
}

int run_demo(DemoOptions o) {
  if (o.model.empty()) o.model = bundled_model_path().string();
  const auto stats_file = std::filesystem::temp_directory_path() / fmt::format("shmyolo-demo-{}.json", getpid());
  const int rc = pipeline::run_pipeline(demo_config(o), {.duration_s = o.duration, .stats_json = stats_file});
  std::ifstream in(stats_file);
  if (rc != 0 || !in) return rc != 0 ? rc : fail("the pipeline wrote no statistics");
  const nlohmann::json summary = summarise(o, nlohmann::json::parse(in));
  std::filesystem::remove(stats_file);
  fmt::print("summary: {}\n", summary.dump());
  if (!summary.contains("precision")) {
    fmt::print("(the model's classes are not the synthetic camera's: no precision or recall)\n");
  }
  if (!o.json.empty()) {
    std::ofstream out(o.json);
    out << summary.dump(2) << '\n';
    if (!out) return fail(fmt::format("cannot write {}: check the folder exists and is writable", o.json));
  }
  return 0;
}

}  // namespace

void add_demo_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<DemoOptions>();
  auto* demo = app.add_subcommand("demo", "Synthetic cameras through the pipeline to the bundled detector, live stats");
  demo->add_option("--cameras", o->cameras, "Synthetic cameras")->check(CLI::Range(1, 64));
  demo->add_option("--workers", o->workers, "Worker processes")->check(CLI::Range(1, 64));
  demo->add_option("--fps", o->fps, "Frames per second per camera")->check(finite_range(0.1, 240.0));
  demo->add_option("--duration", o->duration, "Seconds to run (0: until Ctrl-C)")->check(finite_range(0.0, 1e7));
  demo->add_option("--width", o->width, "Camera frame width")->check(CLI::Range(32, 8192));
  demo->add_option("--height", o->height, "Camera frame height")->check(CLI::Range(32, 8192));
  demo->add_option("--seed", o->seed, "Seed of the first camera's scene");
  demo->add_option("--model", o->model, "Model (default: the bundled shapes detector)");
  demo->add_option("--threads", o->threads, "Inference threads per worker")->check(CLI::Range(1, 64));
  demo->add_option("--conf", o->confidence, "Confidence threshold")->check(finite_range(0.0, 1.0));
  demo->add_option("--json", o->json, "Write the summary as JSON to this file");
  demo->callback([o, &exit_code] { exit_code = run_demo(*o); });
}

}  // namespace shmyolo::cli
