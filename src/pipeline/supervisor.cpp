#include "supervisor_process.hpp"

#include <malloc.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <shmyolo/bus/ring.hpp>

#include "preflight.hpp"
#include "shared_model.hpp"
#include "startup_pages.hpp"

namespace shmyolo::pipeline {
namespace {

constexpr std::uint64_t kMiB = 1ULL << 20;

bool owns_segments(RunRole role) {
  return role != RunRole::workers;
}

// "1 camera", "4 cameras".
std::string counted(std::size_t n, std::string_view noun) {
  return fmt::format("{} {}{}", n, noun, n == 1 ? "" : "s");
}

std::string milliseconds(const nlohmann::json& ms) {
  return ms.is_null() ? fmt::format("{:>7}", "-") : fmt::format("{:7.1f}", ms.get<double>());
}

// A camera's decoding, on its stats line: decoded frames per second, the
// frames skipped before conversion, key frames only (now), its ingest's CPU.
// A camera fed from outside has no ingest to report on.
std::string decoding(const nlohmann::json& cam, const config::CameraConfig& config) {
  if (config.kind == config::SourceKind::external) return "  fed from outside";
  return fmt::format("  decoded {:.1f} fps  skipped {}{}  cpu {:.0f}%", cam["fps_decoded"].get<double>(),
                     cam["skipped"].get<std::uint64_t>(),
                     cam["decoding"].get<std::string>() == "keyframes" ? "  key frames only" : "",
                     cam["cpu_percent"].get<double>());
}

}  // namespace

int Supervisor::run() {
  if (const auto valid = config::validate(config_); !valid) {
    print_error(valid.error().message);
    return 1;
  }
  auto model = probe_model(config_.model);
  if (!model) return 1;
  ctx_.model = *model;
  ctx_.config = &config_;
  layout_ = ring_layout(config_, ctx_.model);
  name_rings(ctx_, layout_);
  if (!check_classes(config_, ctx_.model)) return 1;
  start_ = Clock::now();
  if (!owns_segments(options_.role)) return options_.check_only ? report_checked(nullptr) : run_workers_role();
  const auto plan = plan_for(layout_);
  if (!plan || !preflight(config_, *plan, !options_.check_only)) return 1;
  if (options_.check_only) return report_checked(&*plan);
  if (!create_segments()) return 1;
  start_children();
  std::fprintf(stderr, "shmyolo: %s, %.1f MiB in %s\n",
               described(options_.role == RunRole::ingest ? " (run by shmyolo run --role workers)" : "").c_str(),
               static_cast<double>(plan->total_bytes) / kMiB, ctx_.shm_dir.c_str());
  report_ = std::make_unique<StatsReport>(ctx_, rings_.cameras());
  supervise();
  stop();
  return finish();
}

// "pipeline yard: 4 cameras, 2 workers<after_workers>, model yolov8n.onnx
// (640x640)": the start line's and --check's words for what runs.
std::string Supervisor::described(std::string_view after_workers) const {
  return fmt::format("pipeline {}: {}, {}{}, model {} ({}x{})", config_.name, counted(config_.cameras.size(), "camera"),
                     counted(static_cast<std::size_t>(config_.workers.count), "worker"), after_workers,
                     config_.model.options.path.filename().string(), ctx_.model.input_width, ctx_.model.input_height);
}

// --check: a camera whose file, folder or device is not there now. Only a
// warning: a start retries such a camera until it appears (a late mount, a
// camera plugged in later), so the config itself is right.
void Supervisor::warn_missing_sources(const std::string& file) const {
  for (const auto& camera : config_.cameras) {
    const bool local = camera.kind == config::SourceKind::video_file ||
                       camera.kind == config::SourceKind::image_folder || camera.kind == config::SourceKind::device;
    std::error_code ec;
    if (!local || std::filesystem::exists(camera.location, ec)) continue;
    // The source as written (a path's expanded ${...} may hold a secret),
    // on one line whatever it holds.
    std::fprintf(stderr,
                 "shmyolo: warning: %s: camera %s: %s does not exist now; a start would retry it until it does\n",
                 file.c_str(), camera.name.c_str(), config::one_line(camera.source).c_str());
  }
}

// --check passed: what a start would run, on stdout; nothing was made.
int Supervisor::report_checked(const ShmPlan* plan) const {
  const std::string file = config_.file.empty() ? "config" : config::one_line(config_.file.string());
  std::string room = " (workers only: the ingest side makes the segments)";
  if (plan != nullptr) {
    warn_missing_sources(file);  // the ingest side opens the sources
    const auto space = bus::shm_space(plan->dir);
    room = fmt::format(", {:.1f} MiB of shared memory in {} ({:.0f} MiB free)",
                       static_cast<double>(plan->total_bytes) / kMiB, plan->dir.string(),
                       space ? static_cast<double>(space->free_bytes) / kMiB : 0.0);
  }
  fmt::print("shmyolo: {}: ready to run {}{}; nothing started\n", file, described(""), room);
  return 0;
}

bool Supervisor::create_segments() {
  auto rings = PipelineRings::create(layout_);
  if (!rings) return false;
  rings_ = std::move(*rings);
  auto seg = create_status(layout_.status, config_, ctx_.model);
  if (!seg) {
    std::fprintf(stderr, "shmyolo: %s\n", seg.error().message.c_str());
    return false;
  }
  status_segment_ = std::move(*seg);
  status_ = status_segment_->status;
  ctx_.status = status_;
  return true;
}

void Supervisor::load_model_for_workers() {
  shared_model_ = load_shared_model(config_);
  // Loading frees the parsed file and the optimiser's scratch; glibc keeps
  // freed heap pages resident, and every child would inherit them. Giving
  // them back before the fork took 7 MB off the summed PSS of a 2-worker
  // pipeline of yolo11n-320 (docs/benchmarks.md, transport-e2e).
  malloc_trim(0);
  ctx_.shared_model = shared_model_.get();
}

void Supervisor::start_children() {
  install_stop_handlers(StopRole::supervisor);
  if (options_.role != RunRole::ingest) load_model_for_workers();
  if (options_.role != RunRole::workers) children_.emplace_back(Role::aggregator, 0);
  if (options_.role != RunRole::ingest) {
    for (int w = 0; w < config_.workers.count; ++w) children_.emplace_back(Role::worker, w);
  }
  if (options_.role != RunRole::workers) {
    for (std::size_t c = 0; c < config_.cameras.size(); ++c) {
      if (config_.cameras[c].kind == config::SourceKind::external) continue;  // another process publishes
      children_.emplace_back(Role::ingest, static_cast<int>(c));
    }
  }
  for (auto& c : children_) spawn(c);
  watch_external_cameras();
  // Every child is forked: the pages this process touched only to start (its
  // libraries' loading, the model's) serve nothing now but count as its memory.
  release_startup_pages();
}

// A camera fed from outside has no ingest process to say how it is: it is
// running while a live producer holds its ring and has published a frame,
// waiting before its first frame and after its producer has gone.
void Supervisor::watch_external_cameras() {
  if (!owns_segments(options_.role)) return;
  for (std::size_t c = 0; c < config_.cameras.size(); ++c) {
    if (config_.cameras[c].kind != config::SourceKind::external) continue;
    const bus::FrameRing& ring = rings_.cameras()[c];
    // relaxed: a counter and a state read and written for display. Active:
    // a producer is attached, alive and beating.
    const bool fed = ring.header().counters.published.load(std::memory_order_relaxed) > 0 &&
                     ring.health() == bus::RingHealth::active;
    status_->cameras[c].state.store(static_cast<std::uint32_t>(fed ? CameraState::running : CameraState::waiting),
                                    std::memory_order_relaxed);
  }
}

bool Supervisor::duration_over() const {
  return options_.duration_s > 0 && Clock::now() - start_ >= std::chrono::duration<double>(options_.duration_s);
}

void Supervisor::spawn(Child& c) {
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) _exit(child_main(c, parent));
  c.pid = pid;
  c.started = Clock::now();
  if (c.role == Role::worker)
    status_->workers[static_cast<std::size_t>(c.index)].pid.store(pid, std::memory_order_relaxed);
}

int Supervisor::child_main(const Child& c, pid_t parent) {
  // Die with the supervisor, even by SIGKILL: no orphan keeps a camera open.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != parent) return 1;
  // Ctrl-C reaches the whole process group; only the supervisor acts on it,
  // and stops the children in order with SIGTERM.
  install_stop_handlers(StopRole::child);
  prctl(PR_SET_NAME, process_title(c, config_).c_str());
  switch (c.role) {
    case Role::ingest: return run_ingest(ctx_, c.index);
    case Role::worker: return run_worker(ctx_, c.index);
    case Role::aggregator: return run_aggregator(ctx_);
  }
  return 1;
}

Child* Supervisor::find(pid_t pid) {
  const auto it = std::ranges::find_if(children_, [&](const Child& c) { return c.pid == pid; });
  return it == children_.end() ? nullptr : &*it;
}

void Supervisor::on_exit(Child& c, int wait_status) {
  const Verdict verdict = judge_exit(c, wait_status, Clock::now());
  if (verdict == Verdict::finished || verdict == Verdict::replaced) return;
  const auto index = static_cast<std::size_t>(c.index);
  if (c.role == Role::worker) status_->workers[index].restarts.fetch_add(1, std::memory_order_relaxed);
  if (c.role == Role::ingest) status_->cameras[index].restarts.fetch_add(1, std::memory_order_relaxed);
  const std::string who = role_name(c, config_);
  if (verdict == Verdict::restart) {
    std::fprintf(stderr, "shmyolo: %s %s; restarting in %.1f s\n", who.c_str(), c.last_exit.c_str(),
                 std::chrono::duration<double>(c.restart_at - Clock::now()).count());
    return;
  }
  const std::string why = c.quick_failures >= kCrashLoopBound
                              ? fmt::format("failed {} times in a row, each within {} s of starting (last: {})",
                                            c.quick_failures, kStartupWindow.count(), c.last_exit)
                              : fmt::format("stopped with an error a restart would repeat ({})", c.last_exit);
  if (c.role == Role::ingest) {
    // relaxed: a state read for display.
    status_->cameras[index].state.store(static_cast<std::uint32_t>(CameraState::failed), std::memory_order_relaxed);
    std::fprintf(stderr,
                 "shmyolo: %s %s; it is not restarted, the other cameras run on: fix what its error above says and "
                 "restart the pipeline\n",
                 who.c_str(), why.c_str());
    return;
  }
  failure_ = fmt::format("{} {}", who, why);
  std::fprintf(stderr, "shmyolo: pipeline %s: %s; stopping: fix what its error above says\n", config_.name.c_str(),
               failure_.c_str());
}

void Supervisor::reap() {
  int wait_status = 0;
  pid_t pid = 0;
  while ((pid = waitpid(-1, &wait_status, WNOHANG)) > 0) {
    if (Child* c = find(pid)) {
      if (c->role == Role::worker) rings_.take_back_frames_of(pid);
      on_exit(*c, wait_status);
    }
  }
}

void Supervisor::replace_stuck_workers() {
  const std::uint64_t now = bus::monotonic_ns();
  const auto limit = static_cast<std::uint64_t>(config_.workers.stuck_after_s * 1e9);
  for (auto& c : children_) {
    if (c.role != Role::worker || c.pid <= 0) continue;
    // relaxed: a timestamp compared with our clock; see WorkerStatus.
    const std::uint64_t since =
        status_->workers[static_cast<std::size_t>(c.index)].busy_since_ns.load(std::memory_order_relaxed);
    if (since != 0 && now > since && now - since > limit) {
      std::fprintf(stderr, "shmyolo: worker %d has been on one frame for %.0f s: replacing it\n", c.index,
                   static_cast<double>(now - since) / 1e9);
      status_->workers[static_cast<std::size_t>(c.index)].busy_since_ns.store(0, std::memory_order_relaxed);
      kill(c.pid, SIGKILL);
    }
  }
}

void Supervisor::restart_due() {
  const auto now = Clock::now();
  for (auto& c : children_) {
    if (c.pid < 0 && !c.done && now >= c.restart_at) spawn(c);
  }
}

// The run ends with its sources, unless it also serves HTTP uploads or has
// a camera fed from outside (whose producer may come and go).
bool Supervisor::all_sources_ended() const {
  const bool external = std::ranges::any_of(
      config_.cameras, [](const config::CameraConfig& c) { return c.kind == config::SourceKind::external; });
  return owns_segments(options_.role) && !config_.http && !external &&
         std::ranges::all_of(children_, [](const Child& c) { return c.role != Role::ingest || c.done; });
}

void Supervisor::print_stats() {
  const nlohmann::json s = report_->next();
  std::size_t camera = 0;  // the report lists the cameras in config order
  for (const auto& cam : s["cameras"]) {
    std::string quality = cam.contains("precision")
                              ? fmt::format("  precision {:.3f} recall {:.3f}", cam["precision"].get<double>(),
                                            cam["recall"].get<double>())
                              : "";
    if (cam.contains("mota"))
      quality += fmt::format("  MOTA {:.3f} IDF1 {:.3f}", cam["mota"].get<double>(), cam["idf1"].get<double>());
    std::string losses;  // frames with no result for a fault, shown once there are any
    for (const char* kind : {"failed", "refused", "late"}) {
      if (cam[kind].get<std::uint64_t>() > 0) losses += fmt::format("  {} {}", kind, cam[kind].get<std::uint64_t>());
    }
    const auto& e2e = cam["latency_ms"]["end_to_end"];
    fmt::print(stderr,
               "  {:<12} {:<8} in {:6.1f} fps  out {:6.1f} fps  dropped {:6}  latency p50 {} ms  p99 {} ms{}{}{}\n",
               cam["camera"].get<std::string>(), cam["state"].get<std::string>(), cam["fps_in"].get<double>(),
               cam["fps_out"].get<double>(), cam["dropped"].get<std::uint64_t>(), milliseconds(e2e["p50"]),
               milliseconds(e2e["p99"]), losses, quality, decoding(cam, config_.cameras[camera++]));
  }
  const auto& cpu = s["cpu_percent"];
  std::string workers;
  for (const auto& w : cpu["workers"]) workers += fmt::format(" {:.0f}%", w.get<double>());
  fmt::print(stderr, "  cpu: workers{}  aggregator {:.0f}%\n", workers, cpu["aggregator"].get<double>());
}

void Supervisor::supervise() {
  const auto interval =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(config_.outputs.stats_interval_s));
  auto next_stats = Clock::now() + interval;
  while (!stop_requested() && failure_.empty()) {
    std::this_thread::sleep_for(kTick);
    reap();
    replace_stuck_workers();
    restart_due();
    watch_external_cameras();
    note_workers_ready();
    if (!failure_.empty() || all_sources_ended() || duration_over() || owner_gone() || !rings_intact()) break;
    if (report_ && Clock::now() >= next_stats) {
      print_stats();
      next_stats += interval;
    }
  }
}

// Cameras start capturing once every worker is ready (ingest_process.cpp):
// rates over the run after that moment leave the model's loading out.
void Supervisor::note_workers_ready() {
  if (workers_ready_at_ || status_ == nullptr) return;
  // relaxed: a count read for a timestamp, ordering nothing else.
  if (status_->workers_ready.load(std::memory_order_relaxed) >= static_cast<std::uint32_t>(config_.workers.count)) {
    workers_ready_at_ = Clock::now();
  }
}

// A ring unlinked under the running pipeline can be attached by no restarted
// child and taken by no new reader: the run cannot go on. A ring whose header
// was scribbled on is recreated under its name, and the processes that had
// it start afresh, so the other cameras are served throughout.
bool Supervisor::rings_intact() {
  if (!owns_segments(options_.role)) {
    // The other side recreated a ring: take the new one (and retry until it can).
    if (rings_.removed_segment()) {
      if (auto again = PipelineRings::attach(layout_)) rings_ = std::move(*again);
    }
    return true;
  }
  if (const auto gone = rings_.removed_segment()) {
    failure_ = fmt::format("segment {} was removed by another process", *gone);
    std::fprintf(stderr, "shmyolo: pipeline %s: %s (shmyolo gc --invalid, rm?); stopping: restart the pipeline\n",
                 config_.name.c_str(), failure_.c_str());
    return false;
  }
  for (const auto& ring : rings_.damaged()) {
    // The bus's advice to remove an invalid segment is for strangers to it; its owner recreates it.
    const std::string why = ring.why.substr(0, ring.why.find("; remove it with"));
    std::fprintf(stderr, "shmyolo: pipeline %s: %s; recreating it (the processes that use it restart on the new one)\n",
                 config_.name.c_str(), why.c_str());
    const auto lost = rings_.recreate(ring, layout_);
    if (!lost) {
      failure_ = "a damaged ring could not be recreated";
      return false;
    }
    if (*lost > 0) std::fprintf(stderr, "shmyolo: %u frames waiting in it are lost (counted as dropped)\n", *lost);
    replace_users_of(ring);
  }
  return true;
}

// The processes that hold a recreated ring's producer or consumer role in
// their own state start again on the new one; workers re-attach by themselves.
void Supervisor::replace_users_of(const DamagedRing& ring) {
  const auto replace = [&](Role role, int index) {
    for (auto& c : children_) {
      if (c.role != role || c.index != index || c.pid <= 0) continue;
      c.replacing = true;
      kill(c.pid, SIGTERM);
    }
  };
  switch (ring.kind) {
    case DamagedRing::Kind::camera: replace(Role::ingest, static_cast<int>(ring.index)); break;
    case DamagedRing::Kind::results: replace(Role::worker, static_cast<int>(ring.index)); break;
    case DamagedRing::Kind::uploads:
    case DamagedRing::Kind::feed: break;
  }
  replace(Role::aggregator, 0);  // it reads the results rings, the uploads ring and the cameras' latest frames
}

int Supervisor::finish() {
  if (!failure_.empty()) return 1;  // said when it was found
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  std::optional<double> ready;
  if (workers_ready_at_) ready = std::chrono::duration<double>(*workers_ready_at_ - start_).count();
  const nlohmann::json final_stats = report_->final(elapsed, ready);
  print_stats();
  if (!options_.stats_json.empty()) {
    std::ofstream out(options_.stats_json);
    out << final_stats.dump(2) << '\n';
    if (!out) {
      std::fprintf(stderr, "shmyolo: cannot write %s: check the folder exists and is writable\n",
                   options_.stats_json.c_str());
      return 1;
    }
  }
  const auto failed = std::ranges::find_if(children_, [](const Child& c) { return c.gave_up; });
  if (failed != children_.end()) {
    std::fprintf(stderr, "shmyolo: pipeline %s: %s failed (see above)\n", config_.name.c_str(),
                 role_name(*failed, config_).c_str());
    return 1;
  }
  // A run that ended by itself (sources done, --duration) without one frame
  // from any camera did not work, whatever its retries said on the way.
  const auto& cameras = final_stats["cameras"];
  const bool no_frame = !cameras.empty() && std::ranges::all_of(cameras, [](const nlohmann::json& c) {
    return c["frames_in"].get<std::uint64_t>() == 0;
  });
  if (no_frame && !stop_requested()) {
    std::fprintf(stderr, "shmyolo: pipeline %s: no camera delivered a frame; see the source errors above\n",
                 config_.name.c_str());
    return 1;
  }
  return 0;
}

int run_pipeline(const config::PipelineConfig& config, const RunOptions& options) {
  Supervisor s(config, options);
  return s.run();
}

std::optional<ShmPlan> plan_shm(const config::PipelineConfig& config) {
  const auto model = probe_model(config.model);
  if (!model) return std::nullopt;
  return plan_for(ring_layout(config, *model));
}

}  // namespace shmyolo::pipeline
