// The aggregator process: takes results from every worker's results ring,
// drops a frame's second result (a worker that died after publishing but
// before releasing its claim), keeps per-camera latency statistics in the
// shared status, and writes JSON Lines and MQTT messages.
#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <unordered_set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <shmyolo/bus/ring.hpp>
#include <shmyolo/ingest/synthetic_camera.hpp>
#include <shmyolo/pipeline/result.hpp>
#include <shmyolo/stats/scoring.hpp>

#include "context.hpp"
#include "http_front.hpp"
#include "mqtt_output.hpp"
#include "result_json.hpp"
#include "stats_report.hpp"

namespace shmyolo::pipeline {
namespace {

constexpr std::size_t kRemembered = 1 << 16;  // results per camera remembered for duplicate checks

class Deduplicator {
 public:
  bool first_time(std::uint64_t seq) {
    if (!seen_.insert(seq).second) return false;
    order_.push_back(seq);
    if (order_.size() > kRemembered) {
      seen_.erase(order_.front());
      order_.pop_front();
    }
    return true;
  }

 private:
  std::unordered_set<std::uint64_t> seen_;
  std::deque<std::uint64_t> order_;
};

std::string to_json_line(const Context& ctx, const ResultRecord& r) {
  const nlohmann::json line{{"camera", ctx.config->cameras[r.camera].name},
                            {"frame", r.source_index},
                            {"seq", r.frame_seq},
                            {"capture_unix_ns", r.capture_unix_ns},
                            {"width", r.source_width},
                            {"height", r.source_height},
                            {"worker", r.worker},
                            {"batch", r.batch_size},
                            {"latency_ms",
                             {{"capture_to_publish", ms_between(r.capture_mono_ns, r.publish_mono_ns)},
                              {"queue_wait", ms_between(r.publish_mono_ns, r.claim_mono_ns)},
                              {"inference", rounded(r.inference_ms, 1000)},
                              {"postprocess", rounded(r.postprocess_ms, 1000)},
                              {"end_to_end", ms_between(r.capture_mono_ns, r.done_mono_ns)}}},
                            {"detections", detections_json(ctx.model.names, std::span(r.detections).first(r.count))}};
  return line.dump();
}

// The renderer of each synthetic camera whose truth can judge the model: its
// classes are the synthetic ones, and no undistortion moves the pixels.
std::vector<std::unique_ptr<ingest::SyntheticCamera>> truth_sources(const Context& ctx) {
  std::vector<std::unique_ptr<ingest::SyntheticCamera>> out;
  const bool same_classes = ctx.model.names == ingest::SyntheticCamera::class_names();
  for (std::size_t c = 0; c < ctx.config->cameras.size(); ++c) {
    const auto& cam = ctx.config->cameras[c];
    if (!same_classes || cam.kind != config::SourceKind::synthetic || cam.undistort) {
      out.emplace_back();
      continue;
    }
    const auto& s = cam.synthetic;
    out.push_back(
        std::make_unique<ingest::SyntheticCamera>(ingest::SyntheticCameraOptions{.width = s.width,
                                                                                 .height = s.height,
                                                                                 .seed = s.seed,
                                                                                 .min_objects = s.min_objects,
                                                                                 .max_objects = s.max_objects}));
    ctx.status->cameras[c].scored.store(1, std::memory_order_relaxed);  // relaxed: a flag read for display
  }
  return out;
}

void score(CameraStatus& s, const ingest::SyntheticCamera& truth_source, const ResultRecord& r) {
  std::vector<detect::Detection> found;
  found.reserve(r.count);
  for (std::uint32_t i = 0; i < r.count; ++i) {
    const auto& d = r.detections[i];
    found.push_back({d.class_id, d.score, {d.x1, d.y1, d.x2, d.y2}});
  }
  std::vector<ingest::GroundTruth> truth;
  truth_source.truth(r.source_index, truth);
  const stats::Tally t = stats::score(found, truth);
  // relaxed: counters read for statistics.
  s.true_positives.fetch_add(t.true_positives, std::memory_order_relaxed);
  s.false_positives.fetch_add(t.false_positives, std::memory_order_relaxed);
  s.false_negatives.fetch_add(t.false_negatives, std::memory_order_relaxed);
}

void record_stats(CameraStatus& s, const ResultRecord& r) {
  s.end_to_end.record_ns(r.done_mono_ns - r.capture_mono_ns);
  s.capture_to_publish.record_ns(r.publish_mono_ns - r.capture_mono_ns);
  s.queue_wait.record_ns(r.claim_mono_ns > r.publish_mono_ns ? r.claim_mono_ns - r.publish_mono_ns : 0);
  s.inference.record_ns(static_cast<std::uint64_t>(r.inference_ms * 1e6F));
  s.postprocess.record_ns(static_cast<std::uint64_t>(r.postprocess_ms * 1e6F));
  // relaxed: counters read for statistics.
  s.detections.fetch_add(r.count, std::memory_order_relaxed);
  s.results.fetch_add(1, std::memory_order_relaxed);
}

// The tail of a JSON Lines file after its last newline, when the previous
// aggregator was killed in the middle of writing a line (a line longer than
// a page can be cut by SIGKILL). Its result was not released, so it comes
// again whole: a fragment goes, and a whole line only lacking its newline
// gets one. The bytes read are at most one line.
void mend_last_line(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return;  // not there yet: fopen creates it
  const off_t end = ::lseek(fd, 0, SEEK_END);
  off_t start = end;
  char c = '\n';
  while (start > 0 && ::pread(fd, &c, 1, start - 1) == 1 && c != '\n') --start;
  if (start < end) {
    std::string tail(static_cast<std::size_t>(end - start), '\0');
    const bool read = ::pread(fd, tail.data(), tail.size(), start) == static_cast<ssize_t>(tail.size());
    if (read && nlohmann::json::accept(tail)) {
      (void)::write(fd, "\n", 1);
    } else if (read && tail.front() == '{') {
      (void)::ftruncate(fd, start);
    }
  }
  ::close(fd);
}

class Aggregator {
 public:
  explicit Aggregator(const Context& ctx) : ctx_(ctx), dedup_(ctx.config->cameras.size()) {}

  bool open() {
    for (const auto& name : ctx_.result_rings) {
      auto ring = bus::FrameRing::attach(name, ctx_.shm_dir);
      if (!ring) return fail(ring.error().message);
      results_.push_back(std::move(*ring));
    }
    for (const auto& name : ctx_.camera_rings) {
      auto ring = bus::FrameRing::attach(name, ctx_.shm_dir, bus::Access::read_only);
      if (!ring) return fail(ring.error().message);
      cameras_.push_back(std::move(*ring));
    }
    consumers_.reserve(results_.size());
    for (auto& r : results_) consumers_.emplace_back(r);
    for (auto& c : consumers_) pointers_.push_back(&c);
    const auto& out = ctx_.config->outputs;
    if (out.jsonl == "-") {
      jsonl_ = stdout;
    } else if (!out.jsonl.empty()) {
      mend_last_line(out.jsonl);
      jsonl_ = std::fopen(out.jsonl.c_str(), "a");
      if (jsonl_ == nullptr)
        return fail(fmt::format("cannot write {}: check the folder exists and is writable", out.jsonl));
    }
    if (const std::optional<config::MqttConfig> mqtt = out.mqtt; mqtt.has_value()) {
      mqtt_ = MqttOutput::start(*mqtt, ctx_.config->name);
      if (!mqtt_) return fail("cannot start the MQTT client");
    }
    report_ = std::make_unique<StatsReport>(ctx_, cameras_);
    truth_ = truth_sources(ctx_);
    if (ctx_.config->http) {
      front_ = HttpFront::start(ctx_);
      if (!front_) return false;
    }
    return true;
  }

  ~Aggregator() {
    if (jsonl_ != nullptr && jsonl_ != stdout) std::fclose(jsonl_);
  }
  Aggregator(const Aggregator&) = delete;
  Aggregator& operator=(const Aggregator&) = delete;

  // Until stopped; then drains what the workers have already published.
  void run() {
    auto next_stats = bus::monotonic_ns();
    const auto interval = static_cast<std::uint64_t>(ctx_.config->outputs.stats_interval_s * 1e9);
    while (true) {
      auto claim = bus::claim_any(pointers_, std::chrono::milliseconds(100));
      if (claim) {
        handle(*claim);
      } else if (stop_requested()) {
        break;  // nothing left to take
      }
      if (mqtt_ && bus::monotonic_ns() >= next_stats) {
        mqtt_->publish(mqtt_->prefix() + "/stats", report_->next().dump());
        next_stats += interval;
      }
    }
    if (jsonl_ != nullptr) std::fflush(jsonl_);
  }

 private:
  static bool fail(const std::string& message) {
    std::fprintf(stderr, "shmyolo: aggregator: %s\n", message.c_str());
    return false;
  }

  // The slot is released only after every output has taken its record (the
  // line written to the JSON Lines file and flushed to the kernel, handed to
  // libmosquitto, seen by the HTTP front). An aggregator that dies before
  // that leaves a claim, which the result ring (queue delivery) re-delivers
  // to its replacement: the frame may then come out twice, never not at all.
  void handle(bus::Claim& claim) {
    ResultRecord record;
    const auto bytes = std::min<std::size_t>(claim.pixels().size(), sizeof record);
    const std::uint64_t payload = claim.info().meta.payload_bytes;  // 0: the whole slot
    std::memcpy(&record, claim.pixels().data(), payload == 0 ? bytes : std::min<std::size_t>(bytes, payload));
    deliver(record);
    (void)claim.release();
  }

  void deliver(const ResultRecord& record) {
    if (record.count > ResultRecord::kMaxDetections) return;
    if (record.origin == ResultOrigin::upload) {
      if (front_) front_->deliver(record);
      return;
    }
    if (record.origin != ResultOrigin::camera_frame || record.camera >= ctx_.config->cameras.size()) return;
    if (!dedup_[record.camera].first_time(record.frame_seq)) return;
    if (record.failure != 0) {  // no detections to give: counted (the worker said why)
      // relaxed: a counter read for statistics.
      ctx_.status->cameras[record.camera].failed.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    record_stats(ctx_.status->cameras[record.camera], record);
    if (const auto& t = truth_[record.camera]) score(ctx_.status->cameras[record.camera], *t, record);
    const std::string line = to_json_line(ctx_, record);
    if (jsonl_ != nullptr) {
      std::fwrite(line.data(), 1, line.size(), jsonl_);
      std::fputc('\n', jsonl_);
      std::fflush(jsonl_);  // readers follow the file live (tail -f, log shippers)
    }
    if (mqtt_)
      mqtt_->publish(fmt::format("{}/{}/detections", mqtt_->prefix(), ctx_.config->cameras[record.camera].name), line);
    if (front_) front_->observe(record, line);
  }

  const Context& ctx_;
  std::vector<bus::FrameRing> results_;
  std::vector<bus::FrameRing> cameras_;
  std::vector<bus::Consumer> consumers_;
  std::vector<bus::Consumer*> pointers_;
  std::vector<Deduplicator> dedup_;
  std::FILE* jsonl_ = nullptr;
  std::unique_ptr<MqttOutput> mqtt_;
  std::unique_ptr<StatsReport> report_;
  std::vector<std::unique_ptr<ingest::SyntheticCamera>> truth_;
  std::unique_ptr<HttpFront> front_;  // last: stopped first, while the rest still stands
};

}  // namespace

int run_aggregator(const Context& ctx) {
  Aggregator a(ctx);
  if (!a.open()) return 2;
  a.run();
  return 0;
}

}  // namespace shmyolo::pipeline
