#include "http_front.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <shmyolo/image/image_file.hpp>

#include "live_view.hpp"
#include "result_json.hpp"
#include "ring_layout.hpp"
#include "slot_frame.hpp"
#include "snapshots.hpp"
#include "statistics.hpp"

namespace shmyolo::pipeline {
namespace {

constexpr int kRetryAfterS = 1;  // a slot frees within one inference; a second covers a busy pool
constexpr std::array kStatusCodes{200, 400, 404, 405, 408, 413, 415, 422, 500, 503, 504};
// Prometheus bucket bounds in seconds, 1 ms to 5 s: a frame's stages on CPU and GPU.
constexpr std::array kBucketsS{0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0};

std::uint64_t unix_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

std::optional<double> number(const std::string& text) {
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  // from_chars reads "nan" and "inf", which would pass every range check.
  if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::expected<std::array<std::uint64_t, 2>, std::string> class_mask(const std::vector<std::string>& names,
                                                                    const std::vector<std::string>& wanted) {
  std::array<std::uint64_t, 2> mask{};
  for (const auto& c : wanted) {
    const auto id = detect::class_id(names, c);
    if (!id) return std::unexpected(fmt::format("classes: the model has no class \"{}\"", c));
    if (*id >= kMaskableClasses)
      return std::unexpected(
          fmt::format("classes: \"{}\" is class {}; only the first {} can be chosen", c, *id, kMaskableClasses));
    mask[static_cast<std::size_t>(*id / 64)] |= 1ULL << (*id % 64);
  }
  return mask;
}

std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// The request's conf, iou and classes over the config's.
std::expected<UploadOptions, std::string> options_of(const Context& ctx,
                                                     const std::map<std::string, std::string>& params) {
  const auto& m = ctx.config->model;
  UploadOptions o{.confidence = m.confidence, .iou = m.iou};
  auto mask = class_mask(ctx.model.names, m.classes);
  if (!mask) return std::unexpected(mask.error());
  o.classes = *mask;
  for (const auto& [key, value] : params) {
    if (key == "conf" || key == "iou") {
      const auto v = number(value);
      if (!v || !(*v >= 0 && *v <= 1))
        return std::unexpected(fmt::format("{}: expected a number from 0 to 1, got \"{}\"", key, value));
      (key == "conf" ? o.confidence : o.iou) = static_cast<float>(*v);
    } else if (key == "classes") {
      mask = class_mask(ctx.model.names, split(value));
      if (!mask) return std::unexpected(mask.error());
      o.classes = *mask;
    } else {
      return std::unexpected(fmt::format("unknown parameter \"{}\" (expected conf, iou, classes)", key));
    }
  }
  return o;
}

void histogram(std::string& out, const std::string& name, const std::string& labels, const stats::LatencyHistogram& h) {
  for (const double le : kBucketsS) {
    out += fmt::format("{}_bucket{{{},le=\"{}\"}} {}\n", name, labels, le, h.count_at_most_ms(le * 1000));
  }
  out += fmt::format("{}_bucket{{{},le=\"+Inf\"}} {}\n", name, labels, h.count());
  out += fmt::format("{}_sum{{{}}} {}\n", name, labels, h.sum_ms() / 1000);
  out += fmt::format("{}_count{{{}}} {}\n", name, labels, h.count());
}

void help(std::string& out, const char* name, const char* type, const char* text) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, text, name, type);
}

}  // namespace

HttpFront::HttpFront(const Context& ctx)
    : ctx_(ctx),
      http_(ctx.config->http.value()),
      queue_(upload_queue(*ctx.config)),
      decoding_(static_cast<std::uint64_t>(http_.decode_megapixels * 1e6)) {}

bool HttpFront::PixelBudget::try_take(std::uint64_t pixels) {
  const MutexLock lock(mutex_);
  if (in_use_ + pixels > limit_) return false;
  in_use_ += pixels;
  return true;
}

void HttpFront::PixelBudget::give_back(std::uint64_t pixels) {
  const MutexLock lock(mutex_);
  in_use_ -= std::min(pixels, in_use_);
}

void HttpFront::replied(int status) {
  static_assert(kStatusCodes.size() + 1 == std::tuple_size_v<decltype(replies_)>, "one counter per code, and other");
  const auto it = std::ranges::find(kStatusCodes, status);
  // relaxed: a counter for /metrics.
  replies_[static_cast<std::size_t>(it - kStatusCodes.begin())].fetch_add(1, std::memory_order_relaxed);
}

HttpFront::~HttpFront() {
  {
    const MutexLock lock(pending_mutex_);
    closing_ = true;
  }
  delivered_.notify_all();
  if (live_) live_->close();
  if (server_) server_->stop();
}

void HttpFront::observe(const ResultRecord& record, const std::string& json_line,
                        std::span<const std::uint64_t> track_ids) {
  live_->observe(record, json_line, track_ids);
}

void HttpFront::observe_event(std::size_t camera, const std::string& type, const std::string& json) {
  live_->observe_event(camera, type, json);
}

void HttpFront::observe_tracks(std::size_t camera, nlohmann::json tracks, std::map<std::string, std::string> counts) {
  live_->observe_tracks(camera, std::move(tracks), std::move(counts));
}

http::Reply HttpFront::cameras() {
  return live_->cameras();
}

http::Reply HttpFront::tracks(const std::map<std::string, std::string>& params) {
  return live_->tracks(params);
}

http::Reply HttpFront::snapshot(const std::string& id) {
  const std::optional<config::SnapshotConfig> snapshots = ctx_.config->outputs.snapshots;
  if (!snapshots.has_value()) return http::error_reply(404, "this pipeline keeps no snapshots: set outputs.snapshots");
  if (!Snapshots::valid_id(id)) return http::error_reply(404, "no such event: ids are like gate-1796128824831-17");
  std::ifstream in(Snapshots::path_of(snapshots->dir, id), std::ios::binary);
  if (!in) {
    return http::error_reply(
        404, fmt::format("no snapshot of event {}: not taken yet, or gone past outputs.snapshots' limits", id));
  }
  http::Reply r;
  r.content_type = "image/jpeg";
  r.body.assign(std::istreambuf_iterator<char>(in), {});
  r.headers.emplace_back("Cache-Control", "no-cache");
  return r;
}

http::Reply HttpFront::camera_frame(const std::string& name) {
  return live_->latest_frame(name);
}

std::expected<std::unique_ptr<http::EventStream>, http::Reply> HttpFront::events(
    const std::map<std::string, std::string>& params) {
  return live_->subscribe(params);
}

std::unique_ptr<HttpFront> HttpFront::start(const Context& ctx) {
  std::unique_ptr<HttpFront> front(new HttpFront(ctx));
  auto ring = bus::FrameRing::attach(ctx.upload_ring, ctx.shm_dir);
  if (!ring) return (std::fprintf(stderr, "shmyolo: http: %s\n", ring.error().message.c_str()), nullptr);
  front->ring_ = std::make_unique<bus::FrameRing>(std::move(*ring));
  auto producer = attach_producer(*front->ring_);
  if (!producer) return (std::fprintf(stderr, "shmyolo: http: %s\n", producer.error().message.c_str()), nullptr);
  front->producer_ = std::make_unique<bus::Producer>(std::move(*producer));
  for (const auto& name : ctx.camera_rings) {
    auto camera = bus::FrameRing::attach(name, ctx.shm_dir, bus::Access::read_only);
    if (!camera) return (std::fprintf(stderr, "shmyolo: http: %s\n", camera.error().message.c_str()), nullptr);
    front->cameras_.push_back(std::move(*camera));
  }
  const auto& h = front->http_;
  // Half the request threads at most stream events, so uploads always have threads.
  front->live_ = std::make_unique<LiveView>(ctx, front->cameras_, h.threads / 2);
  std::shared_ptr<const http::TokenStore> tokens;
  if (!h.tokens_file.empty()) {
    auto store = http::TokenStore::load(h.tokens_file);
    if (!store) return (std::fprintf(stderr, "shmyolo: http: %s\n", store.error().c_str()), nullptr);
    tokens = std::make_shared<const http::TokenStore>(std::move(*store));
  }
  auto server = http::Server::start(*front, {.bind = h.bind,
                                             .tokens = tokens,
                                             .tls_cert = h.tls_cert.string(),
                                             .tls_key = h.tls_key.string(),
                                             .port = h.port,
                                             .threads = h.threads,
                                             .max_body_bytes = static_cast<std::uint64_t>(h.max_body_mb * (1 << 20)),
                                             .read_timeout_s = h.read_timeout_s,
                                             .header_timeout_s = h.header_timeout_s,
                                             .request_timeout_s = h.request_timeout_s,
                                             .max_connections = h.max_connections});
  if (!server) return (std::fprintf(stderr, "shmyolo: http: %s\n", server.error().c_str()), nullptr);
  front->server_ = std::move(*server);
  std::fprintf(stderr,
               "shmyolo: http: serving on %s:%d (dashboard at /; POST /v1/detect, GET /v1/cameras, GET /v1/events, GET "
               "/v1/tracks, GET /metrics)%s\n",
               h.bind.c_str(), front->server_->port(),
               tokens && !h.tls_cert.empty() ? ", HTTPS, tokens required"
               : tokens                      ? ", tokens required"
               : !h.tls_cert.empty()         ? ", HTTPS"
                                             : "");
  return front;
}

http::Reply HttpFront::answer(int status, const std::string& message) {
  auto r = http::error_reply(status, message);
  if (status == 503) r.headers.emplace_back("Retry-After", std::to_string(kRetryAfterS));
  return r;
}

http::Reply HttpFront::detect(const http::Upload& upload) {
  const std::uint64_t received = bus::monotonic_ns();
  // relaxed: a flag; a request that slips past it is still drained before the workers stop.
  if (ctx_.status->stopping.load(std::memory_order_relaxed) != 0)
    return answer(503, "the pipeline is stopping: retry on another instance");
  return decode_and_detect(upload, received);
}

http::Reply HttpFront::decode_and_detect(const http::Upload& upload, std::uint64_t received) {
  const image::Limits limits{.max_pixels = static_cast<std::uint64_t>(http_.max_megapixels * 1e6),
                             .max_bytes = static_cast<std::uint64_t>(http_.max_body_mb * (1 << 20))};
  const auto header = image::probe(upload.bytes, upload.name, limits);
  // A body over http.max_body_mb is refused by the server before this (413).
  if (!header) return answer(header.error().code == image::ImageErrc::too_large ? 413 : 422, header.error().message);
  const auto pixels = static_cast<std::uint64_t>(header->width) * static_cast<std::uint64_t>(header->height);
  if (!decoding_.try_take(pixels)) {
    return answer(503, fmt::format("uploads being decoded hold the {:.0f} megapixels of http.decode_megapixels: "
                                   "retry in {} s, or raise it",
                                   static_cast<double>(decoding_.limit()) / 1e6, kRetryAfterS));
  }
  // The decoded picture lives until the answer is built: so does its share.
  struct GiveBack {
    PixelBudget& budget;
    std::uint64_t pixels;
    ~GiveBack() { budget.give_back(pixels); }
  } const give_back{decoding_, pixels};
  auto image = image::decode(upload.bytes, upload.name, limits);
  if (!image) return answer(422, image.error().message);
  return publish_and_wait(upload, *image, received);
}

http::Reply HttpFront::publish_and_wait(const http::Upload& upload, const cv::Mat& image, std::uint64_t received) {
  auto options = options_of(ctx_, upload.params);
  if (!options) return answer(400, options.error());
  // relaxed: ids only need to differ.
  const std::uint64_t id = next_id_.fetch_add(1, std::memory_order_relaxed);
  const auto busy = [&] {
    return answer(503, fmt::format("all {} upload places are taken: retry in {} s, or raise http.queue or "
                                   "workers.count",
                                   queue_, kRetryAfterS));
  };
  bool admitted = false;
  {
    const MutexLock lock(pending_mutex_);
    admitted = pending_.size() < queue_;
    if (admitted) pending_[id] = Pending{};  // taken before publishing: the result may come back at once
  }
  if (!admitted) return busy();
  std::uint64_t published = 0;
  {
    const MutexLock lock(producer_mutex_);
    auto slot = producer_->acquire();
    if (!slot) {  // the ring's spare slots are all held by workers: see ring_layout.cpp
      {
        const MutexLock pending_lock(pending_mutex_);
        pending_.erase(id);
      }
      return busy();
    }
    bus::FrameMeta meta = place_in_slot(image, *slot, ring_->geometry(), ctx_.model.preprocessing,
                                        UploadRequest{.id = id, .options = *options}, image.size());
    meta.capture_unix_ns = unix_ns();
    meta.capture_mono_ns = received;
    published = bus::monotonic_ns();
    producer_->publish(*slot, meta);
  }
  Pending p;
  bool closing = false;
  {
    MutexLock lock(pending_mutex_);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                                 std::chrono::duration<double>(http_.timeout_s));
    while (!closing_ && !pending_[id].done) {
      if (!lock.wait_until(delivered_, deadline)) break;
    }
    p = std::move(pending_[id]);
    pending_.erase(id);
    closing = closing_;
  }
  if (!p.done) {
    return answer(closing ? 503 : 504, closing ? "the service is stopping: retry on another instance"
                                               : fmt::format("no result within {} s (http.timeout): the workers "
                                                             "are overloaded or stuck",
                                                             http_.timeout_s));
  }
  if (p.failure != 0) {
    // relaxed: a counter read for statistics.
    ctx_.status->uploads_failed.fetch_add(1, std::memory_order_relaxed);
    return answer(500, fmt::format("inference failed on worker {} ({}): the pipeline's log says why", p.worker,
                                   detect::to_string(failure_code(p.failure))));
  }
  stages_->decode.record_ns(published - received);
  stages_->queue_wait.record_ns(p.claim_mono_ns > published ? p.claim_mono_ns - published : 0);
  stages_->inference.record_ns(static_cast<std::uint64_t>(p.inference_ms * 1e6F));
  stages_->end_to_end.record_ns(p.done_mono_ns - received);
  const auto& model = ctx_.config->model.options;
  const nlohmann::json body{{"request_id", fmt::format("{:x}-{}", received, id)},
                            {"image", upload.name},
                            {"width", image.cols},
                            {"height", image.rows},
                            {"model", model.path.filename().string()},
                            {"engine", detect::to_string(model.engine)},
                            {"worker", p.worker},
                            {"inference_ms", rounded(p.inference_ms, 100)},
                            {"timings_ms",
                             {{"decode", ms_between(received, published)},
                              {"queue_wait", ms_between(published, p.claim_mono_ns)},
                              {"inference", rounded(p.inference_ms, 1000)},
                              {"postprocess", rounded(p.postprocess_ms, 1000)},
                              {"total", ms_between(received, p.done_mono_ns)}}},
                            {"detections", detections_json(ctx_.model.names, p.detections)}};
  http::Reply reply;
  reply.body = body.dump() + "\n";
  return reply;
}

void HttpFront::deliver(const ResultRecord& r) {
  {
    const MutexLock lock(pending_mutex_);
    const auto it = pending_.find(r.source_index);
    if (it == pending_.end() || it->second.done) return;  // timed out already, or a second result
    Pending& p = it->second;
    p.done = true;
    p.claim_mono_ns = r.claim_mono_ns;
    p.done_mono_ns = r.done_mono_ns;
    p.inference_ms = r.inference_ms;
    p.postprocess_ms = r.postprocess_ms;
    p.worker = r.worker;
    p.failure = r.failure;
    p.detections.assign(r.detections.begin(), r.detections.begin() + r.count);
  }
  delivered_.notify_all();
}

http::Reply HttpFront::health() {
  // relaxed: counters read for display.
  const auto ready = ctx_.status->workers_ready.load(std::memory_order_relaxed);
  const bool stopping = ctx_.status->stopping.load(std::memory_order_relaxed) != 0;
  const bool ok = ready > 0 && !stopping;
  http::Reply r;
  r.status = ok ? 200 : 503;
  r.body = nlohmann::json{{"status", stopping ? "stopping"
                                     : ok     ? "ok"
                                              : "starting"},
                          {"pipeline", ctx_.config->name},
                          {"workers_ready", ready},
                          {"workers", ctx_.config->workers.count},
                          {"cameras", ctx_.config->cameras.size()}}
               .dump() +
           "\n";
  return r;
}

http::Reply HttpFront::metrics() {
  http::Reply r;
  r.content_type = "text/plain; version=0.0.4";
  r.body = metrics_text();
  return r;
}

std::string HttpFront::metrics_text() const {
  std::string out;
  const std::string p = fmt::format("pipeline=\"{}\"", ctx_.config->name);
  const auto camera_label = [&](std::size_t c) {
    return fmt::format("{},camera=\"{}\"", p, ctx_.config->cameras[c].name);
  };
  std::vector<CameraCounts> counts;
  for (std::size_t c = 0; c < cameras_.size(); ++c) {
    counts.push_back(camera_counts(ctx_.config->cameras[c].name, cameras_[c], ctx_.status->cameras[c]));
  }
  const auto per_camera = [&](const char* name, const char* type, const char* what, auto value) {
    help(out, name, type, what);
    for (std::size_t c = 0; c < counts.size(); ++c) {
      out += fmt::format("{}{{{}}} {}\n", name, camera_label(c), value(counts[c]));
    }
  };
  per_camera("shmyolo_frames_decoded_total", "counter", "Frames each camera's decoder produced.",
             [](const CameraCounts& c) { return c.decoded; });
  per_camera("shmyolo_frames_not_decoded_total", "counter",
             "Frames of each camera's source passed over undecoded (key frames only; unused non-reference frames).",
             [](const CameraCounts& c) { return c.not_decoded; });
  per_camera("shmyolo_frames_skipped_total", "counter",
             "Decoded frames never converted into a slot (beyond the cap; a fresh one still waiting).",
             [](const CameraCounts& c) { return c.skipped; });
  per_camera("shmyolo_keyframes_only_seconds_total", "counter", "Time each camera decoded key frames only.",
             [](const CameraCounts& c) { return c.keyframes_only_s; });
  per_camera("shmyolo_ingest_cpu_seconds_total", "counter", "CPU time of each camera's ingest process.",
             [](const CameraCounts& c) { return c.cpu_s; });
  per_camera("shmyolo_frames_in_total", "counter", "Frames each camera converted and published into its ring.",
             [](const CameraCounts& c) { return c.frames_in; });
  per_camera("shmyolo_frames_out_total", "counter", "Frames whose detections the aggregator received.",
             [](const CameraCounts& c) { return c.frames_out; });
  per_camera("shmyolo_frames_dropped_total", "counter", "Frames that will never get a result (see docs/pipeline.md).",
             [](const CameraCounts& c) { return c.dropped; });
  per_camera("shmyolo_backpressure_total", "counter",
             "Queue mode: publishes refused by a full ring, then retried (a wait, not a loss).",
             [](const CameraCounts& c) { return c.backpressure; });
  per_camera("shmyolo_detections_total", "counter", "Boxes in all results.",
             [](const CameraCounts& c) { return c.detections; });
  per_camera("shmyolo_frames_refused_total", "counter",
             "Frames a worker refused: their slot's record was not one shmyolo wrote.",
             [](const CameraCounts& c) { return c.refused; });
  per_camera("shmyolo_frames_failed_total", "counter", "Frames whose inference failed: no detections.",
             [](const CameraCounts& c) { return c.failed; });
  per_camera("shmyolo_results_late_total", "counter",
             "Results that came after a newer frame's result of their camera: written without track ids.",
             [](const CameraCounts& c) { return c.late; });
  per_camera("shmyolo_source_errors_total", "counter", "Failed opens and reads of each camera's source.",
             [](const CameraCounts& c) { return c.source_errors; });
  per_camera("shmyolo_restarts_total", "counter", "Restarts of each camera's ingest process.",
             [](const CameraCounts& c) { return c.restarts; });
  per_camera("shmyolo_queue_depth", "gauge", "Frames waiting in each camera's ring for a worker.",
             [](const CameraCounts& c) { return c.queue_depth; });
  live_->track_metrics(out);
  help(out, "shmyolo_upload_queue_depth", "gauge", "Uploads waiting in the uploads ring for a worker.");
  out += fmt::format("shmyolo_upload_queue_depth{{{}}} {}\n", p, ready_slots(*ring_));
  // relaxed below: counters read for display.
  help(out, "shmyolo_uploads_refused_total", "counter",
       "Uploads a worker refused: their slot's record was not one shmyolo wrote.");
  out += fmt::format("shmyolo_uploads_refused_total{{{}}} {}\n", p,
                     ctx_.status->uploads_refused.load(std::memory_order_relaxed));
  help(out, "shmyolo_uploads_failed_total", "counter", "Uploads whose inference failed (answered 500).");
  out += fmt::format("shmyolo_uploads_failed_total{{{}}} {}\n", p,
                     ctx_.status->uploads_failed.load(std::memory_order_relaxed));
  help(out, "shmyolo_workers_ready", "gauge", "Workers that have loaded the model (replacements count again).");
  out += fmt::format("shmyolo_workers_ready{{{}}} {}\n", p, ctx_.status->workers_ready.load(std::memory_order_relaxed));
  help(out, "shmyolo_worker_restarts_total", "counter", "Times a worker was restarted after a crash or a stall.");
  for (int w = 0; w < ctx_.config->workers.count; ++w) {
    out += fmt::format("shmyolo_worker_restarts_total{{{},worker=\"{}\"}} {}\n", p, w,
                       ctx_.status->workers[static_cast<std::size_t>(w)].restarts.load(std::memory_order_relaxed));
  }
  help(out, "shmyolo_worker_cpu_seconds_total", "counter", "CPU time of the worker in each seat (all its starts).");
  for (int w = 0; w < ctx_.config->workers.count; ++w) {
    out += fmt::format(
        "shmyolo_worker_cpu_seconds_total{{{},worker=\"{}\"}} {}\n", p, w,
        static_cast<double>(ctx_.status->workers[static_cast<std::size_t>(w)].cpu_ns.load(std::memory_order_relaxed)) /
            1e9);
  }
  help(out, "shmyolo_aggregator_cpu_seconds_total", "counter", "CPU time of the aggregator (all its starts).");
  out += fmt::format("shmyolo_aggregator_cpu_seconds_total{{{}}} {}\n", p,
                     static_cast<double>(ctx_.status->aggregator_cpu_ns.load(std::memory_order_relaxed)) / 1e9);
  help(out, "shmyolo_http_requests_total", "counter", "HTTP requests answered, by status.");
  std::size_t code = 0;
  for (const auto& count : replies_) {
    out += fmt::format("shmyolo_http_requests_total{{{},code=\"{}\"}} {}\n", p,
                       code < kStatusCodes.size() ? std::to_string(kStatusCodes[code]) : "other",
                       count.load(std::memory_order_relaxed));
    ++code;
  }
  help(out, "shmyolo_shm_bytes", "gauge", "Bytes of shared memory this pipeline's segments hold.");
  std::uint64_t bytes = ring_->mapped_bytes();
  for (const auto& c : cameras_) bytes += c.mapped_bytes();
  out += fmt::format("shmyolo_shm_bytes{{{}}} {}\n", p, bytes);
  help(out, "shmyolo_latency_seconds", "histogram",
       "Per camera and stage: capture_to_publish, queue_wait, inference, postprocess, end_to_end.");
  for (std::size_t c = 0; c < cameras_.size(); ++c) {
    const auto& s = ctx_.status->cameras[c];
    const std::array<std::pair<const char*, const stats::LatencyHistogram*>, 5> stages{
        {{"capture_to_publish", &s.capture_to_publish},
         {"queue_wait", &s.queue_wait},
         {"inference", &s.inference},
         {"postprocess", &s.postprocess},
         {"end_to_end", &s.end_to_end}}};
    for (const auto& [stage, h] : stages) {
      histogram(out, "shmyolo_latency_seconds", fmt::format("{},stage=\"{}\"", camera_label(c), stage), *h);
    }
  }
  help(out, "shmyolo_upload_latency_seconds", "histogram",
       "Per stage of an HTTP upload: decode (into the slot), queue_wait, inference, end_to_end.");
  const std::array<std::pair<const char*, const stats::LatencyHistogram*>, 4> uploads{
      {{"decode", &stages_->decode},
       {"queue_wait", &stages_->queue_wait},
       {"inference", &stages_->inference},
       {"end_to_end", &stages_->end_to_end}}};
  for (const auto& [stage, h] : uploads) {
    histogram(out, "shmyolo_upload_latency_seconds", fmt::format("{},stage=\"{}\"", p, stage), *h);
  }
  return out;
}

}  // namespace shmyolo::pipeline
