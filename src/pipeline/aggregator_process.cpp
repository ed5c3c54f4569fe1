// The aggregator process: takes results from every worker's results ring,
// drops a frame's second result (a worker that died after publishing but
// before releasing its claim), puts each camera's results in frame order
// (result_order.hpp), tracks objects (camera_tracking.hpp), keeps per-camera
// latency statistics in the shared status, and writes JSON Lines, events,
// MQTT messages and the detections feed.
#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <unordered_set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <shmyolo/bus/ring.hpp>
#include <shmyolo/ingest/synthetic_camera.hpp>
#include <shmyolo/pipeline/result.hpp>
#include <shmyolo/stats/scoring.hpp>
#include <shmyolo/stats/tracking_score.hpp>

#include "camera_tracking.hpp"
#include "context.hpp"
#include "cpu_meter.hpp"
#include "feed_output.hpp"
#include "frame_picture.hpp"
#include "frame_record.hpp"
#include "http_front.hpp"
#include "modbus_output.hpp"
#include "mqtt_output.hpp"
#include "result_json.hpp"
#include "result_order.hpp"
#include "ring_layout.hpp"
#include "snapshots.hpp"
#include "stats_report.hpp"

namespace shmyolo::pipeline {
namespace {

constexpr std::size_t kRemembered = 1 << 16;  // results per camera remembered for duplicate checks
// Results one worker's results ring may have waiting here for their turn:
// two of its slots stay free, so the worker never finds it full (ring_layout.cpp).
constexpr std::size_t kResultRingRoom = kResultSlots - 2;
constexpr std::uint32_t kResultSlotsMax = 64;  // results taken from one ring per look: more than it holds
// IDF1's pairing over a whole run costs more as tracks accumulate: every
// 10th scored frame keeps the live figure at most a second old at 10 fps.
constexpr std::uint64_t kIdPairingEvery = 10;

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

std::string to_json_line(const Context& ctx, const ResultRecord& r, std::span<const std::uint64_t> track_ids) {
  const nlohmann::json line{
      {"camera", ctx.config->cameras[r.camera].name},
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
      {"detections", detections_json(ctx.model.names, std::span(r.detections).first(r.count), track_ids)}};
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

std::vector<detect::Detection> detections_of(const ResultRecord& r) {
  std::vector<detect::Detection> found;
  found.reserve(r.count);
  for (std::uint32_t i = 0; i < r.count; ++i) {
    const auto& d = r.detections[i];
    found.push_back({d.class_id, d.score, {d.x1, d.y1, d.x2, d.y2}});
  }
  return found;
}

void score(CameraStatus& s, std::span<const ingest::GroundTruth> truth, std::span<const detect::Detection> found) {
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
  explicit Aggregator(const Context& ctx)
      : ctx_(ctx),
        dedup_(ctx.config->cameras.size()),
        order_(ctx.config->cameras.size(), ctx.result_rings.size(), kResultRingRoom) {}

  bool open() {
    // relaxed: a counter read for display (Modbus pipeline.aggregator_starts).
    ctx_.status->aggregator_starts.fetch_add(1, std::memory_order_relaxed);
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
    if (!open_lines(out.jsonl, jsonl_) || !open_lines(out.events, events_)) return false;
    feed_ = FeedOutput::open(ctx_);
    if (!feed_) return false;
    if (const std::optional<config::SnapshotConfig> snap = out.snapshots; snap.has_value())
      snapshots_ = std::make_unique<Snapshots>(*snap);
    for (const auto& cam : ctx_.config->cameras)
      tracking_.push_back(std::make_unique<CameraTracking>(cam, ctx_.model.names));
    published_counts_.resize(ctx_.config->cameras.size());
    track_scores_.resize(ctx_.config->cameras.size());
    if (const std::optional<config::MqttConfig> mqtt = out.mqtt; mqtt.has_value()) {
      mqtt_ = MqttOutput::start(*mqtt, ctx_.config->name);
      if (!mqtt_) return fail("cannot start the MQTT client");
    }
    report_ = std::make_unique<StatsReport>(ctx_, cameras_);
    if (ctx_.config->outputs.modbus) {
      modbus_ = ModbusOutput::start(ctx_, cameras_);
      if (!modbus_) return false;
    }
    truth_ = truth_sources(ctx_);
    if (ctx_.config->http) {
      front_ = HttpFront::start(ctx_);
      if (!front_) return false;
    }
    return true;
  }

  ~Aggregator() {
    for (std::FILE* f : {jsonl_, events_}) {
      if (f != nullptr && f != stdout) std::fclose(f);
    }
  }
  Aggregator(const Aggregator&) = delete;
  Aggregator& operator=(const Aggregator&) = delete;

  // Until stopped; then drains what the workers have already published.
  void run() {
    auto next_stats = bus::monotonic_ns();
    const auto interval = static_cast<std::uint64_t>(ctx_.config->outputs.stats_interval_s * 1e9);
    while (true) {
      // While results wait for older frames, look again soon: a frame that
      // is dropped or reclaimed brings no result to wake this loop.
      const auto wait = order_.empty() ? std::chrono::milliseconds(100) : std::chrono::milliseconds(5);
      auto claim = bus::claim_any(pointers_, wait);
      if (claim) {
        take(std::move(*claim));
      } else if (stop_requested()) {
        break;  // nothing left to take
      }
      settle(false);
      cpu_.account();
      if (modbus_) modbus_->tick();
      if (mqtt_ && bus::monotonic_ns() >= next_stats) {
        mqtt_->publish(mqtt_->prefix() + "/stats", report_->next().dump());
        next_stats += interval;
      }
    }
    settle(true);
    for (std::size_t c = 0; c < tracking_.size(); ++c) store_tracking(c, true);
    for (std::size_t c = 0; c < tracking_.size(); ++c) {
      emit_events(c, tracking_[c]->end_all());
      publish_counts(c);
    }
    for (std::FILE* f : {jsonl_, events_}) {
      if (f != nullptr) std::fflush(f);
    }
  }

 private:
  static bool fail(const std::string& message) {
    std::fprintf(stderr, "shmyolo: aggregator: %s\n", message.c_str());
    return false;
  }

  static bool open_lines(const std::string& path, std::FILE*& out) {
    if (path == "-") {
      out = stdout;
    } else if (!path.empty()) {
      mend_last_line(path);
      out = std::fopen(path.c_str(), "a");
      if (out == nullptr) return fail(fmt::format("cannot write {}: check the folder exists and is writable", path));
    }
    return true;
  }

  static void write_line(std::FILE* f, const std::string& line) {
    if (f == nullptr) return;
    std::fwrite(line.data(), 1, line.size(), f);
    std::fputc('\n', f);
    std::fflush(f);  // readers follow the file live (tail -f, log shippers)
  }

  // The slot is released only after every output has taken its record (the
  // line written to the JSON Lines file and flushed to the kernel, handed to
  // libmosquitto, seen by the HTTP front). An aggregator that dies before
  // that leaves a claim, which the result ring (queue delivery) re-delivers
  // to its replacement: the frame may then come out twice, never not at all.
  // A camera's result is held, its slot still claimed, until it is its
  // camera's next in frame order (result_order.hpp).
  void take(bus::Claim claim) {
    auto record = std::make_unique<ResultRecord>();
    const auto bytes = std::min<std::size_t>(claim.pixels().size(), sizeof(ResultRecord));
    const std::uint64_t payload = claim.info().meta.payload_bytes;  // 0: the whole slot
    std::memcpy(record.get(), claim.pixels().data(), payload == 0 ? bytes : std::min<std::size_t>(bytes, payload));
    const ResultRecord& r = *record;
    const bool camera_frame = r.origin == ResultOrigin::camera_frame && r.camera < ctx_.config->cameras.size() &&
                              r.count <= ResultRecord::kMaxDetections;
    if (!camera_frame || !dedup_[r.camera].first_time(r.frame_seq)) {
      if (r.origin == ResultOrigin::upload && r.count <= ResultRecord::kMaxDetections && front_) front_->deliver(r);
      (void)claim.release();
      return;
    }
    const std::size_t ring = ring_of(claim);
    order_.hold(
        {.claim = std::move(claim), .record = std::move(record), .ring = ring, .held_since_ns = bus::monotonic_ns()});
  }

  [[nodiscard]] std::size_t ring_of(const bus::Claim& claim) const {
    for (std::size_t i = 0; i < results_.size(); ++i) {
      if (&results_[i] == &claim.ring()) return i;
    }
    return 0;
  }

  // Gives out the held results whose turn has come. The camera rings are
  // looked at before the results rings are emptied: a frame gone from its
  // camera ring by then has its result taken here (result_order.hpp).
  void settle(bool everything) {
    std::vector<std::uint64_t> floors;
    floors.reserve(cameras_.size());
    for (const auto& ring : cameras_) floors.push_back(oldest_in_flight(ring));
    for (auto& consumer : consumers_) {
      for (std::uint32_t n = 0; n < kResultSlotsMax; ++n) {
        auto claim = consumer.try_claim();
        if (!claim) break;
        take(std::move(*claim));
      }
    }
    for (auto& held : order_.take(floors, bus::monotonic_ns(), everything)) {
      deliver(*held.record);
      (void)held.claim.release();
    }
  }

  void deliver(const ResultRecord& record) {
    if (record.failure != 0) {  // no detections to give: counted (the worker said why)
      // relaxed: a counter read for statistics.
      ctx_.status->cameras[record.camera].failed.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    record_stats(ctx_.status->cameras[record.camera], record);
    const auto found = detections_of(record);
    const TrackedFrame tracked = tracking_[record.camera]->update(record, found);
    // relaxed: a counter read for statistics.
    if (tracked.late) ctx_.status->cameras[record.camera].late.fetch_add(1, std::memory_order_relaxed);
    if (const auto& t = truth_[record.camera]) judge(record, found, *t, tracked);
    if (snapshots_) save_snapshots(record.camera, tracked.snapshots);
    if (modbus_) modbus_->result(record, *tracking_[record.camera]);
    const std::string line = to_json_line(ctx_, record, tracked.ids);
    write_line(jsonl_, line);
    if (mqtt_)
      mqtt_->publish(fmt::format("{}/{}/detections", mqtt_->prefix(), ctx_.config->cameras[record.camera].name), line);
    if (front_) front_->observe(record, line, tracked.ids);
    feed_->publish(record, tracked.ids);
    emit_events(record.camera, tracked.events);
    publish_counts(record.camera);
  }

  // Each wanted snapshot from its frame, if the camera ring still holds it
  // (it usually does: the frame was released moments ago); else the track
  // keeps the snapshot it has.
  void save_snapshots(std::size_t camera, const std::vector<SnapshotWanted>& wanted) {
    const bus::FrameRing& ring = cameras_[camera];
    for (const auto& w : wanted) {
      frame_.resize(ring.geometry().frame_bytes);
      const auto info = bus::peek_frame(ring, w.frame_seq, frame_);
      if (!info) continue;
      const auto record = read_record(info->meta);
      if (!record) continue;
      const std::array<LabelledBox, 1> box{LabelledBox{.box = w.box, .class_id = w.class_id, .label = w.label}};
      const auto jpeg = picture_jpeg(ring.geometry(), frame_, record->placement, box);
      if (snapshots_->save(w.event_id, jpeg, bus::unix_ns() / 1'000'000'000))
        tracking_[camera]->snapshot_saved(w.track_id);
    }
  }

  // A synthetic camera's frame against its truth: the detections, and the
  // tracks where the frame was tracked.
  void judge(const ResultRecord& r, std::span<const detect::Detection> found,
             const ingest::SyntheticCamera& truth_source, const TrackedFrame& tracked) {
    std::vector<ingest::GroundTruth> truth;
    truth_source.truth(r.source_index, truth);
    CameraStatus& s = ctx_.status->cameras[r.camera];
    score(s, truth, found);
    if (!tracked.tracked) return;
    const CameraTracking& tracking = *tracking_[r.camera];
    auto& judged = track_scores_[r.camera];
    if (!judged.score) {
      judged.score = std::make_unique<stats::TrackingScore>();
      judged.crossings = std::make_unique<stats::TrueCrossings>(
          tracking.scene()->lines(), ctx_.config->cameras[r.camera].tracker.anchor == config::Anchor::bottom);
    }
    judged.score->frame(truth, found, tracked.ids);
    judged.crossings->frame(truth);
    store_tracking(r.camera, judged.score->frames() % kIdPairingEvery == 0);
  }

  // The tracking scores into the shared status; IDF1's global pairing only
  // when `pair` (it costs more as tracks accumulate).
  void store_tracking(std::size_t camera, bool pair) {
    const auto& judged = track_scores_[camera];
    if (!judged.score) return;
    CameraStatus& s = ctx_.status->cameras[camera];
    const stats::TrackingTally t = pair ? judged.score->tally() : judged.score->counts();
    std::uint64_t counted = 0;
    const CameraTracking& tracking = *tracking_[camera];
    for (const auto& c : tracking.scene()->line_counts()) counted += c.forward + c.backward;
    // relaxed below: figures read for statistics; this process alone writes them.
    s.truth_objects.store(t.objects, std::memory_order_relaxed);
    s.track_boxes.store(t.boxes, std::memory_order_relaxed);
    s.track_misses.store(t.misses, std::memory_order_relaxed);
    s.track_false_boxes.store(t.false_boxes, std::memory_order_relaxed);
    s.id_switches.store(t.id_switches, std::memory_order_relaxed);
    if (pair) s.id_true_positives.store(t.id_true_positives, std::memory_order_relaxed);
    s.line_crossings.store(counted, std::memory_order_relaxed);
    s.true_line_crossings.store(judged.crossings->count(), std::memory_order_relaxed);
    s.tracking_scored.store(1, std::memory_order_relaxed);
  }

  void emit_events(std::size_t camera, const std::vector<track::SceneEvent>& events) {
    for (const auto& e : events) {
      const std::string line = tracking_[camera]->event_json(e).dump();
      write_line(events_, line);
      if (mqtt_) mqtt_->publish(mqtt_->prefix() + "/events", line);
      if (front_) front_->observe_event(camera, track::to_string(e.type), line);
    }
    if (front_ && ctx_.config->cameras[camera].tracker.enabled)
      front_->observe_tracks(camera, tracking_[camera]->tracks(), tracking_[camera]->counts());
  }

  // Retained: a late subscriber reads the counts as they are now.
  void publish_counts(std::size_t camera) {
    if (!mqtt_) return;
    auto& published = published_counts_[camera];
    for (const auto& [topic, value] : tracking_[camera]->counts()) {
      auto [it, fresh] = published.try_emplace(topic, value);
      if (!fresh && it->second == value) continue;
      it->second = value;
      mqtt_->publish(fmt::format("{}/{}/{}", mqtt_->prefix(), ctx_.config->cameras[camera].name, topic), value, true);
    }
  }

  const Context& ctx_;
  std::vector<bus::FrameRing> results_;
  std::vector<bus::FrameRing> cameras_;
  std::vector<bus::Consumer> consumers_;
  std::vector<bus::Consumer*> pointers_;
  std::vector<Deduplicator> dedup_;
  ResultOrder order_;
  std::vector<std::unique_ptr<CameraTracking>> tracking_;
  std::vector<std::map<std::string, std::string>> published_counts_;  // per camera: retained topic -> value
  std::FILE* jsonl_ = nullptr;
  std::FILE* events_ = nullptr;
  std::unique_ptr<Snapshots> snapshots_;
  std::unique_ptr<ModbusOutput> modbus_;
  std::unique_ptr<FeedOutput> feed_;
  std::vector<std::byte> frame_;  // a camera frame copied for a snapshot
  std::unique_ptr<MqttOutput> mqtt_;
  std::unique_ptr<StatsReport> report_;
  CpuMeter cpu_{ctx_.status->aggregator_cpu_ns};
  std::vector<std::unique_ptr<ingest::SyntheticCamera>> truth_;
  struct TrackJudge {  // a synthetic camera's tracks against its truth
    std::unique_ptr<stats::TrackingScore> score;
    std::unique_ptr<stats::TrueCrossings> crossings;
  };
  std::vector<TrackJudge> track_scores_;
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
