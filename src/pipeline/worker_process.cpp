// A worker process: holds the model, claims frames from every camera's ring
// (one futex_waitv sleep covers them all), runs the detector on the slot's
// pixels in place, and writes each frame's result into its own results ring.
// A frame's claim is released only after its result is published, so a
// worker that dies mid-frame loses nothing: the lease brings the frame back.
#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>
#include <span>
#include <thread>
#include <variant>

#include <fmt/format.h>
#include <shmyolo/bus/ring.hpp>
#include <shmyolo/detect/detector.hpp>
#include <shmyolo/pipeline/result.hpp>

#include "context.hpp"
#include "cpu_meter.hpp"
#include "frame_record.hpp"

namespace shmyolo::pipeline {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kClaimWait = std::chrono::milliseconds(200);  // how often an idle worker checks for stop
constexpr auto kRingCheck = std::chrono::seconds(1);         // how often it looks for closed or skipped rings

// Every camera's ring, and the HTTP uploads ring last when there is one. A
// ring the worker cannot attach (missing, scribbled on) is skipped, said
// once, and tried again every second, as is one closed or replaced under the
// worker (the supervisor recreates a damaged ring): the other cameras are
// served meanwhile.
class Rings {
 public:
  Rings(const Context& ctx, int worker) : ctx_(ctx), worker_(worker), names_(ctx.camera_rings) {
    if (!ctx.upload_ring.empty()) names_.push_back(ctx.upload_ring);
    rings_.resize(names_.size());  // never resized again: consumers point into it
    said_.resize(names_.size());
    refresh();
  }

  // Between batches only: no claim may be held while consumers are rebuilt.
  void refresh_now_and_then() {
    if (Clock::now() >= next_check_) refresh();
  }

  [[nodiscard]] std::span<bus::Consumer* const> consumers() const { return pointers_; }

  // The ring's position in the context's list (cameras, then uploads).
  [[nodiscard]] std::size_t index_of(const bus::FrameRing& ring) const {
    const auto it = std::ranges::find_if(rings_, [&](const auto& r) { return r && &*r == &ring; });
    return static_cast<std::size_t>(it - rings_.begin());
  }

 private:
  void refresh() {
    next_check_ = Clock::now() + kRingCheck;
    bool changed = false;
    for (std::size_t i = 0; i < names_.size(); ++i) {
      auto& ring = rings_[i];
      if (ring && ring->health() != bus::RingHealth::closed && !ring->superseded()) continue;
      auto fresh = bus::FrameRing::attach(names_[i], ctx_.shm_dir);
      if (fresh) {
        ring = std::move(*fresh);
        said_[i].clear();
      } else {
        ring.reset();
        if (fresh.error().message != said_[i]) {
          std::fprintf(stderr, "shmyolo: worker %d: skipping this ring, trying it again every second: %s\n", worker_,
                       fresh.error().message.c_str());
        }
        said_[i] = fresh.error().message;
      }
      changed = true;
    }
    if (changed || consumers_.empty()) rebuild();
  }

  void rebuild() {
    consumers_.clear();
    pointers_.clear();
    for (auto& ring : rings_) {
      if (ring) consumers_.push_back(std::make_unique<bus::Consumer>(*ring));
    }
    for (auto& c : consumers_) pointers_.push_back(c.get());
  }

  const Context& ctx_;
  int worker_;
  std::vector<std::string> names_;
  std::vector<std::optional<bus::FrameRing>> rings_;
  std::vector<std::unique_ptr<bus::Consumer>> consumers_;
  std::vector<bus::Consumer*> pointers_;
  std::vector<std::string> said_;  // the last attach error per ring, so it is said once
  Clock::time_point next_check_{};
};

// Up to `batch` frames: one waited for, the rest only if already there.
std::vector<bus::Claim> claim_batch(const Rings& rings, int batch) {
  std::vector<bus::Claim> claims;
  const auto consumers = rings.consumers();
  if (consumers.empty()) {  // every ring skipped for now
    std::this_thread::sleep_for(kClaimWait);
    return claims;
  }
  auto first = bus::claim_any(consumers, kClaimWait);
  if (!first) return claims;
  claims.push_back(std::move(*first));
  for (std::size_t tries = 0; static_cast<int>(claims.size()) < batch && tries < consumers.size(); ++tries) {
    auto more = bus::claim_any(consumers, std::chrono::nanoseconds(0));
    if (!more) break;
    claims.push_back(std::move(*more));
  }
  return claims;
}

// The supervisor checked model.classes against the model before any worker started.
std::vector<int> class_ids(const Context& ctx) {
  return detect::class_ids(ctx.model.names, ctx.config->model.classes).value_or(std::vector<int>{});
}

// How a claim's inference went, whichever frame of the batch it was.
struct Work {
  int worker = 0;
  std::size_t batch = 1;
  std::uint64_t claimed_ns = 0;
  std::uint64_t done_ns = 0;
  std::uint32_t failure = 0;  // ResultRecord::failure
};

void fill_record(ResultRecord& r, const bus::Claim& claim, const FrameRecord& frame, const detect::DetectOutput& out,
                 const Work& work) {
  const auto& info = claim.info();
  if (const auto* camera = std::get_if<CameraFrame>(&frame.origin)) {
    r.origin = ResultOrigin::camera_frame;
    r.camera = camera->camera;
    r.source_index = camera->index;
  } else {
    r.origin = ResultOrigin::upload;
    r.camera = 0;
    r.source_index = std::get<UploadRequest>(frame.origin).id;
  }
  r.worker = static_cast<std::uint32_t>(work.worker);
  r.failure = work.failure;
  r.frame_seq = info.frame_seq;
  r.capture_unix_ns = info.meta.capture_unix_ns;
  r.capture_mono_ns = info.meta.capture_mono_ns;
  r.publish_mono_ns = info.publish_mono_ns;
  r.claim_mono_ns = work.claimed_ns;
  r.done_mono_ns = work.done_ns;
  r.preprocess_ms = static_cast<float>(out.times.preprocess_ms);
  r.inference_ms = static_cast<float>(out.times.inference_ms);
  r.postprocess_ms = static_cast<float>(out.times.postprocess_ms);
  r.source_width = frame.placement.source_width;
  r.source_height = frame.placement.source_height;
  r.batch_size = static_cast<std::uint32_t>(work.batch);
  const std::size_t n = std::min<std::size_t>(out.detections.size(), ResultRecord::kMaxDetections);
  r.count = static_cast<std::uint32_t>(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto& d = out.detections[i];
    const detect::Box b = frame.placement.to_source(d.box);  // slot pixels -> the source's pixels
    r.detections[i] = {d.class_id, d.score, b.x1, b.y1, b.x2, b.y2};
  }
}

// Publishes into the worker's results ring; waits for space rather than drop.
// While it waits (the aggregator is slow, stopped or restarting) the batch's
// claims are renewed: the frames are done, their results only queued, so
// their leases must not run out and send them to another worker.
bool send(bus::Producer& results, const bus::Claim& claim, const FrameRecord& frame, const detect::DetectOutput& out,
          const Work& work, std::span<const bus::Claim> batch_claims) {
  while (true) {
    for (const auto& c : batch_claims) c.renew();
    auto slot = results.acquire();
    if (slot) {
      auto* record = reinterpret_cast<ResultRecord*>(slot->pixels().data());  // page-aligned slot
      fill_record(*record, claim, frame, out, work);
      bus::FrameMeta meta;
      meta.payload_bytes = offsetof(ResultRecord, detections) + record->count * sizeof(ResultDetection);
      results.publish(*slot, meta);
      return true;
    }
    if (stop_requested()) return false;
  }
}

struct Worker {
  const Context& ctx;
  int index;
  WorkerStatus& status;
  detect::Detector& detector;
  detect::DetectOptions options;
  bus::Producer& results;
  const Rings& rings;
  std::set<RecordErrc> refusals_said;          // each kind of bad frame record is said once
  std::set<detect::DetectErrc> failures_said;  // each kind of inference failure is said once
  CpuMeter cpu{status.cpu_ns};
};

// The claim's frame record, checked against the ring it came from: camera
// ring i carries camera i's frames, the uploads ring uploads, and the bus
// numbered the frame. A frame without a valid record is reported (once per
// kind of fault), counted as refused, and released without a result.
std::optional<FrameRecord> record_of(Worker& w, bus::Claim& claim) {
  const std::size_t ring = w.rings.index_of(claim.ring());
  const bool uploads = ring >= w.ctx.camera_rings.size();
  auto record = read_record(claim.info().meta);
  // relaxed: the ring's next number only grows; a stale view is smaller still.
  const std::uint64_t next_seq = claim.ring().header().next_frame_seq.load(std::memory_order_relaxed);
  if (record && claim.info().frame_seq >= next_seq) {
    record = make_error(
        RecordErrc::unknown_seq,
        fmt::format("sequence number {} was never given (the ring's next is {})", claim.info().frame_seq, next_seq));
  } else if (record) {
    const auto* camera = std::get_if<CameraFrame>(&record->origin);
    if (uploads ? camera != nullptr : (camera == nullptr || camera->camera != ring)) {
      record = make_error(RecordErrc::wrong_ring,
                          fmt::format("frame record: {} in the ring of {}",
                                      camera ? fmt::format("camera {}'s frame", camera->camera) : "an upload",
                                      uploads ? std::string("uploads") : fmt::format("camera {}", ring)));
    }
  }
  if (record) return *record;
  // relaxed: counters, read for display.
  if (uploads) {
    w.ctx.status->uploads_refused.fetch_add(1, std::memory_order_relaxed);
  } else {
    w.ctx.status->cameras[ring].refused.fetch_add(1, std::memory_order_relaxed);
  }
  if (w.refusals_said.insert(record.error().code).second) {
    std::fprintf(stderr, "shmyolo: worker %d: %s: %s; frame %llu refused (said once; counted in refused)\n", w.index,
                 claim.ring().name().c_str(), record.error().message.c_str(),
                 static_cast<unsigned long long>(claim.info().frame_seq));
  }
  (void)claim.release();
  return std::nullopt;
}

// A failed inference: said once per kind, then only counted (by the
// aggregator, from the records' failure). Its frames get a result that says
// so, never an empty list of detections that would pass for "nothing seen".
std::uint32_t say_failure(Worker& w, const detect::DetectError& e) {
  if (w.failures_said.insert(e.code).second) {
    std::fprintf(stderr, "shmyolo: worker %d: %s (said once; frames that fail so are counted in failed)\n", w.index,
                 e.message.c_str());
  }
  return failure_of(e.code);
}

// An upload runs alone, with its request's own conf, iou and classes.
void process_upload(Worker& w, bus::Claim& claim, const FrameRecord& frame) {
  const std::uint64_t claimed = bus::monotonic_ns();
  w.status.busy_since_ns.store(claimed, std::memory_order_relaxed);  // relaxed: see process()
  const auto& o = std::get<UploadRequest>(frame.origin).options;
  detect::DetectOptions options = w.options;
  options.confidence = o.confidence;
  options.iou = o.iou;
  options.classes = class_list(o.classes);
  const auto& g = claim.ring().geometry();
  auto out = w.detector.detect({.data = reinterpret_cast<const std::uint8_t*>(claim.pixels().data()),
                                .width = static_cast<int>(g.width),
                                .height = static_cast<int>(g.height),
                                .stride = g.row_stride},
                               options);
  const Work work{.worker = w.index,
                  .claimed_ns = claimed,
                  .done_ns = bus::monotonic_ns(),
                  .failure = out ? 0 : say_failure(w, out.error())};
  // relaxed: see process(). Inference is over: waiting for result space is not being stuck.
  w.status.busy_since_ns.store(0, std::memory_order_relaxed);
  const detect::DetectOutput empty;
  if (send(w.results, claim, frame, out ? *out : empty, work, std::span(&claim, 1))) (void)claim.release();
  w.status.frames.fetch_add(1, std::memory_order_relaxed);
  w.cpu.account();
}

void process(Worker& w, std::vector<bus::Claim>& all) {
  // Uploads first and alone; camera frames share the config's options and a batch.
  std::vector<bus::Claim> claims;
  std::vector<FrameRecord> frames;
  for (auto& c : all) {
    auto frame = record_of(w, c);
    if (!frame) continue;
    if (std::holds_alternative<UploadRequest>(frame->origin)) {
      process_upload(w, c, *frame);
      continue;
    }
    claims.push_back(std::move(c));
    frames.push_back(*frame);
  }
  if (claims.empty()) return;
  const std::uint64_t claimed = bus::monotonic_ns();
  // relaxed: the supervisor only compares the stamp with its clock; a late
  // view delays a stuck worker's replacement by one check at most.
  w.status.busy_since_ns.store(claimed, std::memory_order_relaxed);
  std::vector<detect::ImageView> views;
  for (const auto& c : claims) {
    const auto& g = c.ring().geometry();
    views.push_back({.data = reinterpret_cast<const std::uint8_t*>(c.pixels().data()),
                     .width = static_cast<int>(g.width),
                     .height = static_cast<int>(g.height),
                     .stride = g.row_stride});
  }
  detect::DetectResult<std::vector<detect::DetectOutput>> outputs;
  if (views.size() == 1) {
    auto one = w.detector.detect(views[0], w.options);
    if (one)
      outputs = std::vector{std::move(*one)};
    else
      outputs = std::unexpected(one.error());
  } else {
    outputs = w.detector.detect_batch(views, w.options);
  }
  const Work work{.worker = w.index,
                  .batch = claims.size(),
                  .claimed_ns = claimed,
                  .done_ns = bus::monotonic_ns(),
                  .failure = outputs ? 0 : say_failure(w, outputs.error())};
  // relaxed: as above. Inference is over: waiting for result space is not being stuck.
  w.status.busy_since_ns.store(0, std::memory_order_relaxed);
  for (std::size_t i = 0; i < claims.size(); ++i) {
    const detect::DetectOutput empty;
    if (send(w.results, claims[i], frames[i], outputs ? (*outputs)[i] : empty, work, std::span(claims).subspan(i)))
      (void)claims[i].release();
  }
  w.status.frames.fetch_add(claims.size(), std::memory_order_relaxed);
  w.cpu.account();
}

}  // namespace

int run_worker(const Context& ctx, int worker) {
  const auto& mc = ctx.config->model;
  std::optional<detect::Detector> own;  // unless the supervisor loaded the model for every worker
  if (ctx.shared_model == nullptr) {
    detect::ModelOptions options = mc.options;
    options.threads = ctx.config->workers.threads;
    auto opened = detect::Detector::open(options);
    if (!opened) {
      std::fprintf(stderr, "shmyolo: worker %d: %s\n", worker, opened.error().message.c_str());
      return 2;
    }
    own.emplace(std::move(*opened));
  }
  detect::Detector* detector = own ? &*own : ctx.shared_model;
  Rings rings(ctx, worker);
  auto results_ring = bus::FrameRing::attach(ctx.result_rings[static_cast<std::size_t>(worker)], ctx.shm_dir);
  if (!results_ring) return (std::fprintf(stderr, "shmyolo: worker: %s\n", results_ring.error().message.c_str()), 2);
  auto results = attach_producer(*results_ring);
  if (!results) return (std::fprintf(stderr, "shmyolo: worker: %s\n", results.error().message.c_str()), 2);
  Worker w{ctx,
           worker,
           ctx.status->workers[static_cast<std::size_t>(worker)],
           *detector,
           {.confidence = mc.confidence, .iou = mc.iou, .max_detections = mc.max_detections, .classes = class_ids(ctx)},
           *results,
           rings,
           {},
           {}};
  detector->warm_up();
  // relaxed: a start-up gate the cameras poll; no data is published with it.
  ctx.status->workers_ready.fetch_add(1, std::memory_order_relaxed);
  const int batch = ctx.model.dynamic_batch ? ctx.config->workers.batch : 1;
  while (!stop_requested()) {
    rings.refresh_now_and_then();
    auto claims = claim_batch(rings, batch);
    if (claims.empty()) {
      results->heartbeat();
      continue;
    }
    process(w, claims);
  }
  return 0;
}

}  // namespace shmyolo::pipeline
