// shmyolo bench ...: every benchmark but transport (transport_command.cpp).
#include <algorithm>
#include <fstream>

#include <fmt/format.h>
#include <cameras_bench.hpp>
#include <chaos_bench.hpp>
#include <decode_bench.hpp>
#include <detect_bench.hpp>
#include <http_bench.hpp>
#include <modbus_bench.hpp>
#include <pipeline_bench.hpp>
#include <python_bench.hpp>
#include <slow_clients_bench.hpp>
#include <tracker_bench.hpp>
#include <transport_e2e.hpp>

#include "bundled_model.hpp"
#include "commands.hpp"

namespace shmyolo::cli {
namespace {

void add_transport_e2e_command(CLI::App& bench, int& exit_code) {
  struct Args {
    bench::TransportE2eOptions bench;
    std::string json;
    std::string plot;
  };
  auto a = std::make_shared<Args>();
  auto* e2e = bench.add_subcommand(
      "transport-e2e",
      "File-I/O spool (JPEG, raw) against the shared-memory pipeline, end to end: latency, memory, CPU, throughput");
  e2e->add_option("--model,-m", a->bench.model, "Model file (e.g. yolov8n)")->required();
  e2e->add_option("--source", a->bench.source, "A video file (default: synthetic cameras at --width x --height)");
  e2e->add_option("--width", a->bench.width, "Synthetic frame width")->check(CLI::Range(32, 8192));
  e2e->add_option("--height", a->bench.height, "Synthetic frame height")->check(CLI::Range(32, 8192));
  e2e->add_option("--cameras", a->bench.cameras, "Cameras")->check(CLI::Range(1, 64));
  e2e->add_option("--workers", a->bench.workers, "Worker processes")->check(CLI::Range(1, 64));
  e2e->add_option("--threads", a->bench.threads, "Inference threads per worker")->check(CLI::Range(1, 64));
  e2e->add_option("--fps", a->bench.fps,
                  "Frames per second per camera in the paced run (0: half of what this machine sustains, measured)")
      ->check(finite_range(0.0, 1000.0));
  e2e->add_option("--frames", a->bench.frames, "Frames per camera in the paced run")->check(CLI::Range(10, 1000000));
  e2e->add_option("--full-speed-frames", a->bench.full_speed_frames, "Frames per camera unpaced (0: skip)")
      ->check(CLI::Range(0, 1000000));
  e2e->add_option("--rounds", a->bench.rounds, "Rounds the frames are split into, architectures taking turns")
      ->check(CLI::Range(1, 100));
  e2e->add_option("--slots", a->bench.slots, "Frames of one camera waiting at once")->check(CLI::Range(1, 1024));
  e2e->add_option("--spool-dir", a->bench.spool_dir, "Where the file-I/O spool folder goes (default: the temp folder)");
  e2e->add_option("--shm-dir", a->bench.shm_dir, "Directory for the pipeline's segments");
  e2e->add_option("--json", a->json, "Also write the figures as JSON to this file");
  e2e->add_option("--plot", a->plot, "Write the latency distributions as a PNG to this file");
  e2e->callback([a, &exit_code] {
    fmt::print("shmyolo bench transport-e2e: model {}\n", a->bench.model.string());
    std::fflush(stdout);
    const auto report = bench::run_transport_e2e(a->bench);
    fmt::print("{}", bench::report_table(report));
    if (!a->json.empty()) std::ofstream(a->json) << bench::report_json(report) << '\n';
    if (!a->plot.empty() && !bench::write_plot(report, a->plot)) {
      fmt::print(stderr, "shmyolo: cannot write the plot to {}\n", a->plot);
      exit_code = 1;
      return;
    }
    const bool failed = !report.error.empty() ||
                        std::ranges::any_of(report.architectures, [](const auto& r) { return !r.error.empty(); });
    exit_code = failed ? 1 : 0;
  });
}

void add_chaos_bench_command(CLI::App& bench, int& exit_code) {
  auto o = std::make_shared<bench::ChaosBenchOptions>();
  auto* cmd = bench.add_subcommand(
      "chaos", "Queue-mode pipeline under random SIGKILLs of its children: every frame must come out, the stop clean");
  cmd->add_option("--model,-m", o->model, "Model file")->required();
  cmd->add_option("--seconds", o->seconds, "How long the kills go on")->check(finite_range(5.0, 86400.0));
  cmd->add_option("--cameras", o->cameras, "Synthetic cameras")->check(CLI::Range(1, 64));
  cmd->add_option("--workers", o->workers, "Worker processes")->check(CLI::Range(1, 64));
  cmd->add_option("--fps", o->fps, "Frames per second per camera")->check(finite_range(0.5, 120.0));
  cmd->add_option("--kill-every", o->kill_every_s, "Mean seconds between SIGKILLs")->check(finite_range(0.1, 3600.0));
  cmd->add_option("--min-age", o->min_age_s, "Kill only children up this many seconds")
      ->check(finite_range(0.0, 3600.0));
  cmd->add_option("--seed", o->seed, "Random seed for the victims and the gaps");
  cmd->add_option("--shm-dir", o->shm_dir, "Folder for the pipeline's segments (default: a fresh one in /dev/shm)");
  cmd->callback([o, &exit_code] {
    fmt::print("shmyolo bench chaos: {} cameras at {} fps, {} workers, a SIGKILL every ~{} s for {} s, model {}\n",
               o->cameras, o->fps, o->workers, o->kill_every_s, o->seconds, o->model.string());
    std::fflush(stdout);
    const auto report = bench::run_chaos_bench(*o);
    fmt::print("{}", bench::report_table(report));
    if (!report.passed()) fmt::print(stderr, "the pipeline's log:\n{}", report.log);
    exit_code = report.passed() ? 0 : 1;
  });
}

void add_slow_clients_bench_command(CLI::App& bench, int& exit_code) {
  auto o = std::make_shared<bench::SlowClientsOptions>();
  o->model = bundled_model_path().string();
  auto* cmd = bench.add_subcommand(
      "slow-clients", "shmyolo serve's health checks and uploads, quiet and under slow and idle connections");
  cmd->add_option("--model,-m", o->model, "Model the service runs (default: the bundled one)");
  cmd->add_option("--image", o->image, "Image to upload")->required();
  cmd->add_option("--slow", o->slow, "Connections sending a request head a byte a second")->check(CLI::Range(0, 800));
  cmd->add_option("--idle", o->idle, "Connections sending nothing")->check(CLI::Range(0, 800));
  cmd->add_option("--seconds", o->seconds, "Seconds of each phase")->check(finite_range(1.0, 3600.0));
  cmd->callback([o, &exit_code] {
    o->shmyolo_bin = std::filesystem::read_symlink("/proc/self/exe").string();
    const auto report = bench::run_slow_clients_bench(*o);
    fmt::print("{}", bench::slow_clients_table(*o, report));
    exit_code = report.error.empty() ? 0 : 1;
  });
}

void add_modbus_bench_command(CLI::App& bench, int& exit_code) {
  auto o = std::make_shared<bench::ModbusBenchOptions>();
  o->model = bundled_model_path().string();
  auto* cmd = bench.add_subcommand("modbus", "The Modbus server's round trips to polling PLCs while the pipeline runs");
  cmd->add_option("--model,-m", o->model, "Model the pipeline runs (default: the bundled one)");
  cmd->add_option("--cameras", o->cameras, "Synthetic cameras at 10 fps")->check(CLI::Range(1, 64));
  cmd->add_option("--clients", o->clients, "PLCs polling at once")->check(CLI::Range(1, 200));
  cmd->add_option("--seconds", o->seconds, "Seconds of polling")->check(finite_range(1.0, 3600.0));
  cmd->callback([o, &exit_code] {
    o->shmyolo_bin = std::filesystem::read_symlink("/proc/self/exe").string();
    const auto report = bench::run_modbus_bench(*o);
    fmt::print("{}", bench::modbus_table(*o, report));
    exit_code = report.error.empty() ? 0 : 1;
  });
}

void add_decode_bench_command(CLI::App& bench, int& exit_code) {
  auto o = std::make_shared<bench::DecodeBenchOptions>();
  auto* cmd = bench.add_subcommand("decode", "What each way of reading a video costs per frame (one thread)");
  cmd->add_option("--source", o->source, "A video file (shmyolo synth --video makes one)")->required();
  cmd->add_option("--frames", o->frames, "Frames read per way")->check(CLI::Range(10, 1000000));
  cmd->add_option("--input", o->input, "The slot's side (the model's input)")->check(CLI::Range(32, 4096));
  cmd->callback([o, &exit_code] {
    const auto report = bench::run_decode_bench(*o);
    fmt::print("{}", bench::decode_table(*o, report));
    exit_code = report.error.empty() ? 0 : 1;
  });
}

void add_python_bench_command(CLI::App& bench, int& exit_code) {
  auto o = std::make_shared<bench::PythonBenchOptions>();
  auto* cmd = bench.add_subcommand("python",
                                   "The Python package against C++ and against shared_memory + a semaphore + np.copy");
  cmd->add_option("--width", o->width, "Frame width")->check(CLI::Range(32, 8192));
  cmd->add_option("--height", o->height, "Frame height")->check(CLI::Range(32, 8192));
  cmd->add_option("--frames", o->frames, "Frames per measurement")->check(CLI::Range(10, 1000000));
  cmd->add_option("--json", o->json, "Write the figures as JSON");
  // The script's C++ consumer, started by it: hidden from --help.
  cmd->add_option("--consume-ring", o->consume_ring, "Be the C++ consumer of this ring")->group("");
  cmd->callback([o, &exit_code] {
    if (!o->consume_ring.empty()) {
      exit_code = bench::run_cpp_consumer(o->consume_ring, o->frames);
      return;
    }
    o->script = (source_tree() / "src" / "bench" / "python_bench.py").string();
    o->module_dir = (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "python").string();
    exit_code = bench::run_python_bench(*o);
  });
}

void add_cameras_bench_command(CLI::App& bench, int& exit_code) {
  auto o = std::make_shared<bench::CamerasBenchOptions>();
  auto* cmd = bench.add_subcommand(
      "cameras", "Many cameras on this host: each way of decoding against the decoder's cost and the bare detector");
  cmd->add_option("--model,-m", o->model, "Model file (e.g. yolo11n-320)")->required();
  cmd->add_option("--cameras", o->cameras, "Camera counts to run, comma-separated")
      ->delimiter(',')
      ->check(CLI::Range(1, 64));
  cmd->add_option("--source", o->source, "A video file (default: a 1080p30 H.264 clip made for the run)");
  cmd->add_option("--fps", o->fps, "Each camera's cap")->check(finite_range(0.1, 240.0));
  cmd->add_flag("--realtime", o->realtime, "Play the video at its own rate, like a live camera");
  cmd->add_option("--seconds", o->seconds, "Each pipeline run")->check(finite_range(2.0, 3600.0));
  cmd->add_option("--workers", o->workers, "Worker processes")->check(CLI::Range(1, 64));
  cmd->add_option("--json", o->json, "Also write the figures as JSON to this file");
  cmd->add_option("--shm-dir", o->shm_dir, "Folder for the pipelines' segments");
  cmd->callback([o, &exit_code] {
    const auto report = bench::run_cameras_bench(*o);
    fmt::print("{}", bench::cameras_table(*o, report));
    if (!o->json.empty()) std::ofstream(o->json) << bench::cameras_json(report) << '\n';
    const bool failed =
        !report.error.empty() || std::ranges::any_of(report.runs, [](const auto& r) { return !r.error.empty(); });
    exit_code = failed ? 1 : 0;
  });
}

void add_tracker_bench_command(CLI::App& bench, int& exit_code) {
  auto o = std::make_shared<bench::TrackerBenchOptions>();
  auto* cmd = bench.add_subcommand("tracker", "What tracking (the tracker, zones and lines) costs per frame");
  cmd->add_option("--objects", o->objects, "Objects in the scene")->check(CLI::Range(1, 1000));
  cmd->add_option("--frames", o->frames, "Frames to track")->check(CLI::Range(10, 10000000));
  cmd->add_option("--seed", o->seed, "Seed of the scene");
  cmd->callback([o, &exit_code] {
    fmt::print("{}", bench::tracker_table(*o, bench::run_tracker_bench(*o)));
    exit_code = 0;
  });
}

}  // namespace

void add_http_bench_command(CLI::App& bench, int& exit_code) {
  auto o = std::make_shared<bench::HttpBenchOptions>();
  o->baseline_dir = (source_tree() / "src" / "bench").string();
  auto* cmd = bench.add_subcommand("http",
                                   "Concurrent uploads: Flask + Gunicorn on OpenCV DNN vs shmyolo serve on OpenCV DNN "
                                   "and ONNX Runtime (also with tokens + TLS)");
  cmd->add_option("--model,-m", o->model, "A YOLOv5-layout model (e.g. yolov5n.onnx)")->required();
  cmd->add_option("--image", o->image, "Image to upload, resized to --width x --height (default: a synthetic frame)");
  cmd->add_option("--width", o->width, "Upload width")->check(CLI::Range(32, 8192));
  cmd->add_option("--height", o->height, "Upload height")->check(CLI::Range(32, 8192));
  cmd->add_option("--workers", o->workers, "Worker processes per service")->check(CLI::Range(1, 64));
  cmd->add_option("--threads", o->threads, "Inference threads per worker")->check(CLI::Range(1, 64));
  cmd->add_option("--concurrency", o->concurrency, "Requests in flight")->check(CLI::Range(1, 256));
  cmd->add_option("--seconds", o->seconds, "Seconds of load per service and round")->check(finite_range(1.0, 3600.0));
  cmd->add_option("--rounds", o->rounds, "Rounds, the services taking turns")->check(CLI::Range(1, 100));
  cmd->add_option("--baseline-dir", o->baseline_dir, "Folder of flask_baseline.py");
  cmd->callback([o, &exit_code] {
    o->shmyolo_bin = std::filesystem::read_symlink("/proc/self/exe").string();
    fmt::print("shmyolo bench http: starting the services\n");
    std::fflush(stdout);
    const auto results = bench::run_http_bench(*o);
    fmt::print("{}", bench::http_report_table(*o, results));
    exit_code = std::ranges::any_of(results, [](const auto& r) { return !r.error.empty(); }) ? 1 : 0;
  });
}

void add_bench_commands(CLI::App& app, int& exit_code) {
  auto* bench = app.add_subcommand("bench", "Benchmarks that print their figures");
  bench->require_subcommand(1);

  add_transport_bench_command(*bench, exit_code);

  struct DetectArgs {
    bench::DetectBenchOptions bench;
    std::string model;
    std::string engine = "ort";
    std::string image;
    std::string json;
  };
  auto d = std::make_shared<DetectArgs>();
  auto* det = bench->add_subcommand("detect",
                                    "Detector load time, per-stage times at 1 and 2 threads, multi-process throughput");
  det->add_option("--model,-m", d->model, "Model file")->required();
  det->add_option("--engine", d->engine, "Inference engine")->check(CLI::IsMember({"ort", "opencv"}));
  det->add_option("--image", d->image, "Image to run on (default: a synthetic 1920x1080 frame)");
  det->add_option("--runs", d->bench.runs, "Timed runs per thread count")->check(CLI::Range(3, 10000));
  det->add_option("--processes", d->bench.processes, "Single-threaded detector processes run side by side (0: skip)")
      ->check(CLI::Range(0, 64));
  det->add_option("--seconds", d->bench.process_seconds, "How long each throughput run lasts")
      ->check(finite_range(1.0, 3600.0));
  det->add_option("--json", d->json, "Also write the figures as JSON to this file");
  det->add_flag("--allow-spinning", d->bench.model.allow_spinning,
                "Let ONNX Runtime's threads busy-wait between operators (faster alone, slower on shared cores)");
  det->callback([d, &exit_code] {
    d->bench.model.path = d->model;
    d->bench.model.engine = d->engine == "opencv" ? detect::Engine::opencv : detect::Engine::onnxruntime;
    d->bench.image = d->image;
    const auto report = bench::run_detect_bench(d->bench);
    fmt::print("{}", bench::report_table(report));
    if (!d->json.empty()) std::ofstream(d->json) << bench::report_json(report) << '\n';
    exit_code = report.error.empty() ? 0 : 1;
  });

  struct PipelineArgs {
    bench::PipelineBenchOptions bench;
    std::string json;
  };
  auto p = std::make_shared<PipelineArgs>();
  auto* pipe = bench->add_subcommand(
      "pipeline", "Cameras x workers through the real pipeline against the bare detector on the same cores");
  pipe->add_option("--model,-m", p->bench.model, "Model file")->required();
  pipe->add_option("--cameras", p->bench.cameras, "Cameras")->check(CLI::Range(1, 64));
  pipe->add_option("--workers", p->bench.workers, "Worker processes")->check(CLI::Range(1, 64));
  pipe->add_option("--frames", p->bench.frames, "Frames per camera")->check(CLI::Range(10, 1000000));
  pipe->add_option("--source", p->bench.source, "A video file to read (default: synthetic cameras)");
  pipe->add_option("--width", p->bench.width, "Synthetic frame width")->check(CLI::Range(32, 8192));
  pipe->add_option("--height", p->bench.height, "Synthetic frame height")->check(CLI::Range(32, 8192));
  pipe->add_option("--shm-dir", p->bench.shm_dir, "Directory for the pipeline's segments");
  pipe->add_option("--json", p->json, "Also write the figures as JSON to this file");
  pipe->callback([p, &exit_code] {
    fmt::print("shmyolo bench pipeline: {} cameras x {} workers, {} frames per camera, model {}\n", p->bench.cameras,
               p->bench.workers, p->bench.frames, p->bench.model.string());
    std::fflush(stdout);
    const auto report = bench::run_pipeline_bench(p->bench);
    fmt::print("{}", bench::report_table(report));
    if (!p->json.empty()) std::ofstream(p->json) << bench::report_json(report) << '\n';
    exit_code = report.error.empty() ? 0 : 1;
  });

  add_transport_e2e_command(*bench, exit_code);
  add_http_bench_command(*bench, exit_code);
  add_slow_clients_bench_command(*bench, exit_code);
  add_tracker_bench_command(*bench, exit_code);
  add_decode_bench_command(*bench, exit_code);
  add_cameras_bench_command(*bench, exit_code);
  add_python_bench_command(*bench, exit_code);
  add_modbus_bench_command(*bench, exit_code);
  add_chaos_bench_command(*bench, exit_code);
}

}  // namespace shmyolo::cli
