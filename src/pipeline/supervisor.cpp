#include <shmyolo/pipeline/supervisor.hpp>

#include <arpa/inet.h>
#include <linux/magic.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <shmyolo/bus/ring.hpp>
#include <shmyolo/detect/model.hpp>
#include <shmyolo/pipeline/result.hpp>

#include "context.hpp"
#include "stats_report.hpp"
#include "status_segment.hpp"

namespace shmyolo::pipeline {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kTick = std::chrono::milliseconds(100);  // how often the supervisor looks at its children
constexpr auto kFirstBackoff = std::chrono::milliseconds(500);
constexpr auto kLongestBackoff = std::chrono::seconds(10);
constexpr auto kHealthyAfter = std::chrono::seconds(30);  // a child up this long starts its backoff afresh
constexpr auto kExitGrace = std::chrono::seconds(10);     // after SIGTERM, before SIGKILL
constexpr auto kDrainLimit = std::chrono::seconds(60);    // queued frames still being worked on at stop
constexpr std::uint32_t kResultSlots = 8;                 // per worker: results in flight to the aggregator
constexpr std::uint64_t kMiB = 1ULL << 20;
constexpr auto kOwnerPoll = std::chrono::milliseconds(500);  // --role workers: how often it looks for the segments

enum class Role { ingest, worker, aggregator };

struct Child {
  Role role;
  int index;
  pid_t pid = -1;
  int failures = 0;  // consecutive, for the backoff
  Clock::time_point started{};
  Clock::time_point restart_at{};
  bool done = false;  // ended for good (a finished source, or stopped)
};

std::string role_name(const Child& c, const config::PipelineConfig& config) {
  switch (c.role) {
    case Role::ingest: return "camera " + config.cameras[static_cast<std::size_t>(c.index)].name;
    case Role::worker: return fmt::format("worker {}", c.index);
    case Role::aggregator: return "aggregator";
  }
  return "child";
}

bus::RingOptions camera_ring(const config::PipelineConfig& config, const ModelFacts& model, std::size_t c,
                             const std::filesystem::path& dir) {
  const auto& cam = config.cameras[c];
  bus::RingOptions o;
  o.name = fmt::format("shmyolo.{}.cam.{}", config.name, cam.name);
  o.dir = dir;
  o.width = static_cast<std::uint32_t>(model.input_width);
  o.height = static_cast<std::uint32_t>(model.input_height);
  // One slot per worker that may hold a frame of this camera, one being written, one ready.
  o.slot_count =
      cam.slots > 0 ? cam.slots : static_cast<std::uint32_t>(config.workers.count * config.workers.batch + 2);
  o.delivery = cam.delivery;
  o.full_policy = bus::FullPolicy::fail;  // queue mode: ingest waits for space, never drops
  o.queue_wait = std::chrono::milliseconds(200);
  // Longer than a worker may legitimately hold a frame: the supervisor
  // replaces a stuck worker first, and its claim returns once it is dead.
  o.lease = std::chrono::milliseconds(static_cast<std::int64_t>(config.workers.stuck_after_s * 1000) + 5000);
  return o;
}

// HTTP uploads, decoded and letterboxed by the front, claimed by any worker.
// Its slots bound the uploads waiting or in work: when none is free the
// front answers 503 at once rather than queue without bound.
bus::RingOptions upload_ring(const config::PipelineConfig& config, const config::HttpConfig& http,
                             const ModelFacts& model, const std::filesystem::path& dir) {
  bus::RingOptions o;
  o.name = fmt::format("shmyolo.{}.uploads", config.name);
  o.dir = dir;
  o.width = static_cast<std::uint32_t>(model.input_width);
  o.height = static_cast<std::uint32_t>(model.input_height);
  const int queue = http.queue > 0 ? http.queue : 2 * config.workers.count;
  o.slot_count = static_cast<std::uint32_t>(queue);
  o.delivery = bus::Delivery::queue;
  o.full_policy = bus::FullPolicy::fail;
  o.queue_wait = std::chrono::milliseconds(1);  // the shortest wait: a full queue is answered, not waited on
  o.lease = std::chrono::milliseconds(static_cast<std::int64_t>(config.workers.stuck_after_s * 1000) + 5000);
  return o;
}

bus::RingOptions result_ring(const config::PipelineConfig& config, int worker, const std::filesystem::path& dir) {
  bus::RingOptions o;
  o.name = fmt::format("shmyolo.{}.results.{}", config.name, worker);
  o.dir = dir;
  o.format = bus::PixelFormat::opaque;
  // Opaque bytes as rows of 4096 (ring frames are at most 16384 wide).
  o.width = 4096;
  o.height = static_cast<std::uint32_t>((sizeof(ResultRecord) + 4095) / 4096);
  o.slot_count = kResultSlots;
  o.delivery = bus::Delivery::queue;
  o.full_policy = bus::FullPolicy::fail;
  o.queue_wait = std::chrono::milliseconds(200);
  return o;
}

std::filesystem::path shm_dir_of(const config::PipelineConfig& config) {
  return config.shm_dir.empty() ? bus::default_shm_dir() : config.shm_dir;
}

std::vector<bus::RingOptions> all_rings(const config::PipelineConfig& config, const ModelFacts& model) {
  const auto dir = shm_dir_of(config);
  std::vector<bus::RingOptions> rings;
  for (std::size_t c = 0; c < config.cameras.size(); ++c) rings.push_back(camera_ring(config, model, c, dir));
  for (int w = 0; w < config.workers.count; ++w) rings.push_back(result_ring(config, w, dir));
  return rings;
}

bool owns_segments(RunRole role) {
  return role != RunRole::workers;
}

std::optional<ShmPlan> plan_for(const config::PipelineConfig& config, const ModelFacts& model) {
  ShmPlan plan;
  plan.dir = shm_dir_of(config);
  const auto space = bus::shm_space(plan.dir).value_or(bus::ShmSpace{});  // a missing folder: refused later
  auto rings = all_rings(config, model);
  rings.push_back(status_ring_options(config.name, plan.dir));
  if (const auto& http = config.http) rings.push_back(upload_ring(config, *http, model, plan.dir));
  for (const auto& o : rings) {
    auto bytes = bus::bytes_needed(o);
    if (!bytes) {
      std::fprintf(stderr, "shmyolo: %s\n", bytes.error().message.c_str());
      return std::nullopt;
    }
    plan.segments.push_back({o.name, bus::segment_bytes(*bytes, space)});
    plan.total_bytes += plan.segments.back().bytes;
  }
  // Headroom: a quarter more plus 8 MiB, for a second pipeline starting while
  // the first one's segments are still being removed.
  plan.recommended_bytes = ((plan.total_bytes + plan.total_bytes / 4 + 8 * kMiB + kMiB - 1) / kMiB) * kMiB;
  return plan;
}

bool check_space(const ShmPlan& plan) {
  const auto space = bus::shm_space(plan.dir);
  if (!space) {
    std::fprintf(stderr, "shmyolo: shared-memory folder %s does not exist: create it or set shm_dir (or --shm-dir)\n",
                 plan.dir.c_str());
    return false;
  }
  const std::uint64_t free_bytes = space->free_bytes;
  if (free_bytes >= plan.total_bytes) return true;
  if (space->huge_pages) {
    std::fprintf(stderr, "shmyolo: shared-memory folder %s: %s\n", plan.dir.c_str(),
                 bus::huge_page_advice(plan.total_bytes, *space).c_str());
    return false;
  }
  const std::uint64_t mib = plan.recommended_bytes / kMiB;
  std::string need = fmt::format("{:.1f} MiB", static_cast<double>(plan.total_bytes) / kMiB);
  std::string have = fmt::format("{:.1f} MiB", static_cast<double>(free_bytes) / kMiB);
  if (need == have) {  // "needs 5.7 MiB but only 5.7 MiB are free" says nothing: give the bytes
    need = fmt::format("{} bytes", plan.total_bytes);
    have = fmt::format("{} bytes", free_bytes);
  }
  std::fprintf(stderr,
               "shmyolo: this pipeline needs %s in %s but only %s are free: enlarge it (docker run "
               "--shm-size=%llum, compose shm_size: %llum, Kubernetes emptyDir sizeLimit: %lluMi) or point shm_dir "
               "(--shm-dir) at a larger tmpfs\n",
               need.c_str(), plan.dir.c_str(), have.c_str(), static_cast<unsigned long long>(mib),
               static_cast<unsigned long long>(mib), static_cast<unsigned long long>(mib));
  return false;
}

// The JSON Lines file is opened by the aggregator after the fork; one it
// cannot open is refused here, at start, in one line, rather than by an
// aggregator restarting in a loop while the queues stall.
bool check_outputs(const config::PipelineConfig& config) {
  const std::string& file = config.outputs.jsonl;
  if (file.empty() || file == "-") return true;
  // An existing file must be a plain file on a real file system: a FIFO
  // would block the open, /proc and /sys files take no lines.
  struct stat st {};
  struct statfs fs {};
  const bool exists = ::stat(file.c_str(), &st) == 0;
  const bool pseudo =
      exists && ::statfs(file.c_str(), &fs) == 0 && (fs.f_type == PROC_SUPER_MAGIC || fs.f_type == SYSFS_MAGIC);
  if (exists && (!S_ISREG(st.st_mode) || pseudo)) {
    std::fprintf(stderr, "shmyolo: %s: outputs.jsonl: %s is %s, not a file shmyolo can append lines to; name a file\n",
                 config.file.string().c_str(), file.c_str(), S_ISDIR(st.st_mode) ? "a folder" : "a special file");
    return false;
  }
  std::FILE* f = std::fopen(file.c_str(), "a");  // creates it, as the aggregator would
  if (f == nullptr) {
    std::fprintf(stderr, "shmyolo: %s: outputs.jsonl: cannot write %s (%s): check the folder exists and is writable\n",
                 config.file.string().c_str(), file.c_str(), std::strerror(errno));
    return false;
  }
  std::fclose(f);
  return true;
}

// The HTTP port is taken by the aggregator after the fork; a port already in
// use is refused here, at start, in one line, rather than by an aggregator
// restarting in a loop.
bool check_port(const config::PipelineConfig& config) {
  if (!config.http || config.http->port == 0) return true;
  const auto& h = *config.http;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);  // as the server itself binds
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(h.port));
  const bool parsed = ::inet_pton(AF_INET, h.bind.c_str(), &addr.sin_addr) == 1;
  const bool bound = parsed && ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  const int err = errno;
  ::close(fd);
  if (!parsed) {
    std::fprintf(stderr, "shmyolo: http.bind: \"%s\" is not an IPv4 address (e.g. 0.0.0.0 or 127.0.0.1)\n",
                 h.bind.c_str());
  } else if (!bound) {
    std::fprintf(stderr, "shmyolo: http: cannot listen on %s:%d (%s): stop what uses it or set http.port (--port)\n",
                 h.bind.c_str(), h.port, std::strerror(err));
  }
  return bound;
}

bool check_classes(const config::PipelineConfig& config, const ModelFacts& model) {
  const auto ids = detect::class_ids(model.names, config.model.classes);
  if (ids) return true;
  std::fprintf(stderr, "shmyolo: %s: model.classes: %s (see shmyolo models inspect %s)\n", config.file.string().c_str(),
               ids.error().c_str(), config.model.options.path.string().c_str());
  return false;
}

class Supervisor {
 public:
  Supervisor(const config::PipelineConfig& config, const RunOptions& options) : config_(config), options_(options) {}
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  int run() {
    auto model = probe_model(config_.model);
    if (!model) return 1;
    ctx_.model = *model;
    ctx_.config = &config_;
    ctx_.shm_dir = shm_dir_of(config_);
    if (!check_classes(config_, ctx_.model)) return 1;
    start_ = Clock::now();
    if (!owns_segments(options_.role)) return run_workers_role();
    const auto plan = plan_for(config_, ctx_.model);
    if (!plan || !check_space(*plan) || !check_port(config_) || !check_outputs(config_)) return 1;
    if (!create_rings() || !create_status_segment()) return 1;
    start_children();
    std::fprintf(stderr, "shmyolo: pipeline %s: %zu cameras, %d workers%s, model %s (%dx%d), %.1f MiB in %s\n",
                 config_.name.c_str(), config_.cameras.size(), config_.workers.count,
                 options_.role == RunRole::ingest ? " (run by shmyolo run --role workers)" : "",
                 config_.model.options.path.filename().c_str(), ctx_.model.input_width, ctx_.model.input_height,
                 static_cast<double>(plan->total_bytes) / kMiB, ctx_.shm_dir.c_str());
    report_ = std::make_unique<StatsReport>(ctx_, camera_rings_);
    supervise();
    stop();
    return finish();
  }

 private:
  // The names every process finds the rings by; both roles derive them from the config alike.
  void name_rings() {
    for (const auto& o : all_rings(config_, ctx_.model)) {
      (o.format == bus::PixelFormat::opaque ? ctx_.result_rings : ctx_.camera_rings).push_back(o.name);
    }
    if (const auto& http = config_.http) ctx_.upload_ring = upload_ring(config_, *http, ctx_.model, ctx_.shm_dir).name;
  }

  bool create_rings() {
    name_rings();
    for (const auto& o : all_rings(config_, ctx_.model)) {
      auto ring = bus::FrameRing::create(o);
      if (!ring) {
        std::fprintf(stderr, "shmyolo: %s\n", ring.error().message.c_str());
        return false;
      }
      (o.format == bus::PixelFormat::opaque ? result_rings_ : camera_rings_).push_back(std::move(*ring));
    }
    if (config_.http) {
      auto ring = bus::FrameRing::create(upload_ring(config_, *config_.http, ctx_.model, ctx_.shm_dir));
      if (!ring) {
        std::fprintf(stderr, "shmyolo: %s\n", ring.error().message.c_str());
        return false;
      }
      upload_ring_ = std::move(*ring);
    }
    return true;
  }

  bool create_status_segment() {
    auto seg = create_status(status_ring_options(config_.name, ctx_.shm_dir));
    if (!seg) {
      std::fprintf(stderr, "shmyolo: %s\n", seg.error().message.c_str());
      return false;
    }
    status_segment_ = std::move(*seg);
    status_ = status_segment_->status;
    ctx_.status = status_;
    return true;
  }

  void start_children() {
    install_stop_handlers(StopRole::supervisor);
    if (options_.role != RunRole::workers) children_.push_back({Role::aggregator, 0});
    if (options_.role != RunRole::ingest) {
      for (int w = 0; w < config_.workers.count; ++w) children_.push_back({Role::worker, w});
    }
    if (options_.role != RunRole::workers) {
      for (std::size_t c = 0; c < config_.cameras.size(); ++c) children_.push_back({Role::ingest, static_cast<int>(c)});
    }
    for (auto& c : children_) spawn(c);
  }

  // --role workers: the segments belong to the ingest side, in another
  // container. Attach them when they appear, run the workers until that
  // side stops or restarts, then wait for it again.
  int run_workers_role() {
    name_rings();
    install_stop_handlers(StopRole::supervisor);
    while (!stop_requested() && !duration_over()) {
      if (!attach_owner()) break;
      start_children();
      std::fprintf(stderr, "shmyolo: pipeline %s: %d workers attached in %s, model %s (%dx%d)\n", config_.name.c_str(),
                   config_.workers.count, ctx_.shm_dir.c_str(), config_.model.options.path.filename().c_str(),
                   ctx_.model.input_width, ctx_.model.input_height);
      supervise();
      stop_role(Role::worker);
      children_.clear();
      if (owner_gone() && !stop_requested()) {
        std::fprintf(stderr, "shmyolo: pipeline %s: its ingest side stopped; waiting for it to start again\n",
                     config_.name.c_str());
      }
      status_segment_.reset();
      camera_rings_.clear();
      result_rings_.clear();
      upload_ring_.reset();
      status_ = nullptr;
      ctx_.status = nullptr;
    }
    return 0;
  }

  // Waits for the ingest side's status segment; says once why it waits.
  bool attach_owner() {
    const auto options = status_ring_options(config_.name, ctx_.shm_dir);
    std::string said;
    while (!stop_requested() && !duration_over()) {
      auto seg = attach_status(options.name, ctx_.shm_dir);
      if (seg && seg->ring.health() != bus::RingHealth::closed && attach_rings()) {
        status_segment_ = std::move(*seg);
        status_ = status_segment_->status;
        ctx_.status = status_;
        return true;
      }
      const std::string why =
          seg ? fmt::format("pipeline {} in {} is closing", config_.name, ctx_.shm_dir.string())
          : seg.error().code == bus::BusErrc::not_found && seg.error().message.find("another") == std::string::npos
              ? fmt::format(
                    "waiting for pipeline {}: no {} in {} yet (start shmyolo run --role ingest with this "
                    "/dev/shm shared, or both with one --shm-dir)",
                    config_.name, options.name, ctx_.shm_dir.string())
              : seg.error().message;
      if (why != said) std::fprintf(stderr, "shmyolo: %s\n", why.c_str());
      said = why;
      std::this_thread::sleep_for(kOwnerPoll);
    }
    return false;
  }

  // --role workers: the ingest side's rings, so that a dead worker's frames
  // can be taken back (take_back_frames_of). The workers attach their own.
  bool attach_rings() {
    camera_rings_.clear();
    result_rings_.clear();
    for (const auto& name : ctx_.camera_rings) {
      auto ring = bus::FrameRing::attach(name, ctx_.shm_dir);
      if (!ring) return false;
      camera_rings_.push_back(std::move(*ring));
    }
    for (const auto& name : ctx_.result_rings) {
      auto ring = bus::FrameRing::attach(name, ctx_.shm_dir);
      if (!ring) return false;
      result_rings_.push_back(std::move(*ring));
    }
    upload_ring_.reset();
    if (!ctx_.upload_ring.empty()) {
      auto ring = bus::FrameRing::attach(ctx_.upload_ring, ctx_.shm_dir);
      if (!ring) return false;
      upload_ring_ = std::move(*ring);
    }
    return true;
  }

  [[nodiscard]] bool owner_gone() const {
    return status_segment_ &&
           (status_segment_->ring.health() == bus::RingHealth::closed || status_segment_->ring.superseded());
  }

  [[nodiscard]] bool duration_over() const {
    return options_.duration_s > 0 && Clock::now() - start_ >= std::chrono::duration<double>(options_.duration_s);
  }

  void spawn(Child& c) {
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid == 0) _exit(child_main(c, parent));
    c.pid = pid;
    c.started = Clock::now();
    if (c.role == Role::worker)
      status_->workers[static_cast<std::size_t>(c.index)].pid.store(pid, std::memory_order_relaxed);
  }

  int child_main(const Child& c, pid_t parent) {
    // Die with the supervisor, even by SIGKILL: no orphan keeps a camera open.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) return 1;
    // Ctrl-C reaches the whole process group; only the supervisor acts on it,
    // and stops the children in order with SIGTERM.
    install_stop_handlers(StopRole::child);
    const std::string title =
        fmt::format("shmyolo-{}", c.role == Role::aggregator ? std::string("aggregator")
                                  : c.role == Role::worker   ? fmt::format("worker{}", c.index)
                                                             : config_.cameras[static_cast<std::size_t>(c.index)].name);
    prctl(PR_SET_NAME, title.c_str());
    switch (c.role) {
      case Role::ingest: return run_ingest(ctx_, c.index);
      case Role::worker: return run_worker(ctx_, c.index);
      case Role::aggregator: return run_aggregator(ctx_);
    }
    return 1;
  }

  Child* find(pid_t pid) {
    const auto it = std::ranges::find_if(children_, [&](const Child& c) { return c.pid == pid; });
    return it == children_.end() ? nullptr : &*it;
  }

  void on_exit(Child& c, int wait_status) {
    c.pid = -1;
    const bool clean = WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0;
    if (c.role == Role::ingest && clean) {
      c.done = true;  // its source ended
      return;
    }
    const std::string how = WIFSIGNALED(wait_status) ? fmt::format("was killed by signal {}", WTERMSIG(wait_status))
                                                     : fmt::format("exited with code {}", WEXITSTATUS(wait_status));
    c.failures = Clock::now() - c.started > kHealthyAfter ? 1 : c.failures + 1;
    const auto backoff = std::min<Clock::duration>(kFirstBackoff * (1 << std::min(c.failures - 1, 5)), kLongestBackoff);
    c.restart_at = Clock::now() + backoff;
    std::fprintf(stderr, "shmyolo: %s %s; restarting in %.1f s\n", role_name(c, config_).c_str(), how.c_str(),
                 std::chrono::duration<double>(backoff).count());
    if (c.role == Role::worker)
      status_->workers[static_cast<std::size_t>(c.index)].restarts.fetch_add(1, std::memory_order_relaxed);
    if (c.role == Role::ingest)
      status_->cameras[static_cast<std::size_t>(c.index)].restarts.fetch_add(1, std::memory_order_relaxed);
  }

  void reap() {
    int wait_status = 0;
    pid_t pid = 0;
    while ((pid = waitpid(-1, &wait_status, WNOHANG)) > 0) {
      if (Child* c = find(pid)) {
        if (c->role == Role::worker) take_back_frames_of(pid);
        on_exit(*c, wait_status);
      }
    }
  }

  // A worker just reaped may have died holding frames: they go back to the
  // rings now. Within one pid namespace the bus would notice the dead pid by
  // itself; across containers (--role workers) only we know it is dead.
  void take_back_frames_of(pid_t pid) {
    for (const auto& r : camera_rings_) r.reclaim_claims_of(pid);
    if (upload_ring_) upload_ring_->reclaim_claims_of(pid);
    for (const auto& r : result_rings_) r.reclaim_claims_of(pid);
  }

  void replace_stuck_workers() {
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

  // The run ends with its sources, unless it also serves HTTP uploads.
  bool all_sources_ended() const {
    return owns_segments(options_.role) && !config_.http &&
           std::ranges::all_of(children_, [](const Child& c) { return c.role != Role::ingest || c.done; });
  }

  static std::string milliseconds(const nlohmann::json& ms) {
    return ms.is_null() ? fmt::format("{:>7}", "-") : fmt::format("{:7.1f}", ms.get<double>());
  }

  void print_stats() {
    const nlohmann::json s = report_->next();
    for (const auto& cam : s["cameras"]) {
      const std::string quality = cam.contains("precision")
                                      ? fmt::format("  precision {:.3f} recall {:.3f}", cam["precision"].get<double>(),
                                                    cam["recall"].get<double>())
                                      : "";
      const auto& e2e = cam["latency_ms"]["end_to_end"];
      fmt::print(stderr,
                 "  {:<12} {:<8} in {:6.1f} fps  out {:6.1f} fps  dropped {:6}  latency p50 {} ms  p99 {} ms{}\n",
                 cam["camera"].get<std::string>(), cam["state"].get<std::string>(), cam["fps_in"].get<double>(),
                 cam["fps_out"].get<double>(), cam["dropped"].get<std::uint64_t>(), milliseconds(e2e["p50"]),
                 milliseconds(e2e["p99"]), quality);
    }
  }

  void supervise() {
    const auto interval =
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(config_.outputs.stats_interval_s));
    auto next_stats = Clock::now() + interval;
    while (!stop_requested()) {
      std::this_thread::sleep_for(kTick);
      reap();
      replace_stuck_workers();
      const auto now = Clock::now();
      for (auto& c : children_) {
        if (c.pid < 0 && !c.done && now >= c.restart_at) spawn(c);
      }
      if (all_sources_ended() || duration_over() || owner_gone()) break;
      if (const auto gone = removed_segment()) {
        std::fprintf(stderr,
                     "shmyolo: pipeline %s: segment %s was removed by another process (shmyolo gc --invalid, rm?); "
                     "stopping: restart the pipeline\n",
                     config_.name.c_str(), gone->c_str());
        segments_lost_ = true;
        break;
      }
      if (report_ && now >= next_stats) {
        print_stats();
        next_stats += interval;
      }
    }
  }

  // A ring unlinked under the running pipeline can be attached by no
  // restarted child and taken by no new reader: the run cannot go on.
  [[nodiscard]] std::optional<std::string> removed_segment() const {
    for (const auto* rings : {&camera_rings_, &result_rings_}) {
      for (const auto& r : *rings) {
        if (r.superseded()) return r.path().string();
      }
    }
    if (upload_ring_ && upload_ring_->superseded()) return upload_ring_->path().string();
    return std::nullopt;
  }

  bool queues_drained() const {
    std::vector<const bus::FrameRing*> rings;
    rings.reserve(camera_rings_.size() + 1);
    for (const auto& ring : camera_rings_) rings.push_back(&ring);
    if (upload_ring_) rings.push_back(&*upload_ring_);
    for (const auto* ring_pointer : rings) {
      const auto& ring = *ring_pointer;
      if (ring.policy().delivery != bus::Delivery::queue) continue;
      for (std::uint32_t i = 0; i < ring.geometry().slot_count; ++i) {
        // acquire: pairs with the release that published or released the slot.
        const bus::SlotControl control{ring.descriptor(i).control.load(std::memory_order_acquire)};
        if (control.state() == bus::SlotState::ready || control.state() == bus::SlotState::claimed) return false;
      }
    }
    return true;
  }

  void stop_role(Role role) {
    for (auto& c : children_) {
      if (c.role != role || c.pid <= 0) continue;
      kill(c.pid, SIGTERM);
      kill(c.pid, SIGCONT);  // a stopped child (SIGSTOP, a debugger let go) must run to exit
    }
    const auto deadline = Clock::now() + kExitGrace;
    while (Clock::now() < deadline &&
           std::ranges::any_of(children_, [&](const Child& c) { return c.role == role && c.pid > 0; })) {
      int wait_status = 0;
      const pid_t pid = waitpid(-1, &wait_status, WNOHANG);
      if (pid > 0) {
        if (Child* c = find(pid)) c->pid = -1;
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    for (auto& c : children_) {
      if (c.role != role || c.pid <= 0) continue;
      std::fprintf(stderr, "shmyolo: %s did not stop in time: killed\n", role_name(c, config_).c_str());
      kill(c.pid, SIGKILL);
      waitpid(c.pid, nullptr, 0);
      if (role == Role::worker) take_back_frames_of(c.pid);
      c.pid = -1;
    }
  }

  void stop() {
    status_->stopping.store(1, std::memory_order_relaxed);  // relaxed: a flag, nothing published with it
    stop_role(Role::ingest);
    for (std::size_t c = 0; c < config_.cameras.size(); ++c) {
      auto& state = status_->cameras[c].state;
      if (state.load(std::memory_order_relaxed) != static_cast<std::uint32_t>(CameraState::finished)) {
        state.store(static_cast<std::uint32_t>(CameraState::stopped), std::memory_order_relaxed);
      }
    }
    // Queued frames are owed a result: let the workers finish them (dead
    // workers are still replaced meanwhile).
    const auto deadline = Clock::now() + kDrainLimit;
    while (!queues_drained() && Clock::now() < deadline && workers_alive()) {
      std::this_thread::sleep_for(kTick);
      reap();
      replace_stuck_workers();
      for (auto& c : children_) {
        if (c.role == Role::worker && c.pid < 0 && Clock::now() >= c.restart_at) spawn(c);
      }
    }
    stop_role(Role::worker);
    stop_role(Role::aggregator);
    for (auto& r : camera_rings_) r.close();
    for (auto& r : result_rings_) r.close();
    if (upload_ring_) upload_ring_->close();
    if (status_segment_) status_segment_->ring.close();  // tells --role workers processes the pipeline stopped
  }

  // Whether anyone can still drain the queues: always with our own workers;
  // with --role ingest, while a workers process heartbeats on a results ring.
  [[nodiscard]] bool workers_alive() const {
    return options_.role == RunRole::all || std::ranges::any_of(result_rings_, [](const bus::FrameRing& r) {
             return r.health() == bus::RingHealth::active;
           });
  }

  int finish() {
    if (segments_lost_) return 1;  // said when it was found
    const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    const nlohmann::json final_stats = report_->final(elapsed);
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

  const config::PipelineConfig& config_;
  RunOptions options_;
  Context ctx_;
  std::optional<StatusSegment> status_segment_;
  PipelineStatus* status_ = nullptr;
  std::vector<bus::FrameRing> camera_rings_;
  std::vector<bus::FrameRing> result_rings_;
  std::optional<bus::FrameRing> upload_ring_;
  std::vector<Child> children_;
  std::unique_ptr<StatsReport> report_;
  Clock::time_point start_;
  bool segments_lost_ = false;
};

}  // namespace

int run_pipeline(const config::PipelineConfig& config, const RunOptions& options) {
  Supervisor s(config, options);
  return s.run();
}

std::optional<ShmPlan> plan_shm(const config::PipelineConfig& config) {
  const auto model = probe_model(config.model);
  if (!model) return std::nullopt;
  return plan_for(config, *model);
}

}  // namespace shmyolo::pipeline
