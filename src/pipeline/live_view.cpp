#include "live_view.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ranges>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "frame_picture.hpp"
#include "frame_record.hpp"
#include "result_json.hpp"
#include "statistics.hpp"

namespace shmyolo::pipeline {
namespace {

// Results kept per camera: enough for fps and percentiles over the last
// seconds at camera rates, and to find the result of a peeked frame.
constexpr std::size_t kRecent = 64;
constexpr double kRateWindowS = 3;        // fps over the last 3 s of results
constexpr std::size_t kQueueLimit = 256;  // events a slow reader may fall behind before the oldest go
// A peeked frame's result is at most one end-to-end latency away.
constexpr auto kResultWait = std::chrono::seconds(1);

}  // namespace

class LiveView::EventFeed final : public http::EventStream {
 public:
  EventFeed(LiveView& view, Subscriber* s) : view_(view), s_(s) {}
  ~EventFeed() override { view_.end_stream(s_); }
  EventFeed(const EventFeed&) = delete;
  EventFeed& operator=(const EventFeed&) = delete;

  std::optional<std::string> next(std::chrono::milliseconds wait) override {
    MutexLock lock(view_.mutex_);
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (!view_.closed_ && s_->queue.empty() && s_->dropped == 0) {
      if (!lock.wait_until(view_.observed_, deadline)) break;
    }
    if (view_.closed_) return std::nullopt;
    if (s_->dropped > 0) {
      std::string e = fmt::format("event: dropped\ndata: {{\"dropped\":{}}}\n\n", s_->dropped);
      s_->dropped = 0;
      return e;
    }
    if (s_->queue.empty()) return std::string();
    std::string e = std::move(s_->queue.front());
    s_->queue.pop_front();
    return e;
  }

 private:
  LiveView& view_;
  Subscriber* s_;
};

LiveView::LiveView(const Context& ctx, const std::vector<bus::FrameRing>& cameras, int max_streams)
    : ctx_(ctx),
      cameras_(cameras),
      max_streams_(max_streams),
      recent_(cameras.size()),
      tracks_(cameras.size()),
      ingest_cpu_(cameras.size()),
      worker_cpu_(static_cast<std::size_t>(ctx.config->workers.count)) {}

LiveView::~LiveView() {
  close();
}

void LiveView::close() {
  {
    const MutexLock lock(mutex_);
    closed_ = true;
  }
  observed_.notify_all();
}

void LiveView::observe(const ResultRecord& r, const std::string& json_line, std::span<const std::uint64_t> track_ids) {
  {
    const MutexLock lock(mutex_);
    auto& recent = recent_[r.camera];
    recent.push_back({.seq = r.frame_seq,
                      .done_mono_ns = r.done_mono_ns,
                      .end_to_end_ms = static_cast<double>(r.done_mono_ns - r.capture_mono_ns) / 1e6,
                      .source_width = r.source_width,
                      .source_height = r.source_height,
                      .detections = {r.detections.begin(), r.detections.begin() + r.count},
                      .track_ids = {track_ids.begin(), track_ids.end()}});
    if (recent.size() > kRecent) recent.pop_front();
    if (!subscribers_.empty())
      push(r.camera, "detections", fmt::format("event: detections\nid: {}\ndata: {}\n\n", r.frame_seq, json_line));
  }
  observed_.notify_all();
}

std::optional<std::size_t> LiveView::camera_index(const std::string& name) const {
  const auto& cams = ctx_.config->cameras;
  const auto it = std::ranges::find_if(cams, [&](const auto& c) { return c.name == name; });
  if (it == cams.end()) return std::nullopt;
  return static_cast<std::size_t>(it - cams.begin());
}

http::Reply LiveView::cameras() const {
  nlohmann::json list = nlohmann::json::array();
  const auto now = bus::monotonic_ns();
  const MutexLock lock(mutex_);
  for (std::size_t c = 0; c < cameras_.size(); ++c) list.push_back(camera_json(c, now));
  const nlohmann::json cpu = process_cpu(now);
  http::Reply r;
  r.headers.emplace_back("Cache-Control", "no-store");
  r.body = nlohmann::json{{"pipeline", ctx_.config->name}, {"cameras", list}, {"cpu_percent", cpu}}.dump() + "\n";
  return r;
}

nlohmann::json LiveView::camera_json(std::size_t c, std::uint64_t now) const {
  const auto& cam = ctx_.config->cameras[c];
  const auto& recent = recent_[c];
  stats::LatencyHistogram latencies;
  std::size_t in_window = 0;
  std::uint64_t first_in_window = 0;
  for (const Seen& s : recent) {
    latencies.record_ns(static_cast<std::uint64_t>(s.end_to_end_ms * 1e6));
    if (static_cast<double>(now - std::min(now, s.done_mono_ns)) <= kRateWindowS * 1e9) {
      if (in_window++ == 0) first_in_window = s.done_mono_ns;
    }
  }
  // Results in the window over the time since its first one, so a camera
  // that has gone quiet falls to 0 within the window; 0 with under two.
  double fps = 0;
  if (in_window > 1) {
    const double span_s = static_cast<double>(now - first_in_window) / 1e9;
    fps = static_cast<double>(in_window) / std::max(span_s, 1e-3);
  }
  nlohmann::json j = counts_json(camera_counts(cam.name, cameras_[c], ctx_.status->cameras[c]));
  j["source"] = cam.shown;  // credentials masked, files by name
  j["fps_out"] = round_to(fps, 2);
  // relaxed: a statistic, read for display.
  j["cpu_percent"] =
      round_to(ingest_cpu_[c].percent(ctx_.status->cameras[c].cpu_ns.load(std::memory_order_relaxed), now), 1);
  j["latency_ms"]["end_to_end"] = percentiles_json(latencies);
  if (!recent.empty()) last_result_json(recent.back(), now, j);
  return j;
}

void LiveView::last_result_json(const Seen& last, std::uint64_t now, nlohmann::json& j) const {
  nlohmann::json classes = nlohmann::json::object();
  for (const auto& d : last.detections) {
    const std::string n = class_name(ctx_.model.names, d.class_id);
    classes[n] = classes.value(n, 0) + 1;
  }
  j["width"] = last.source_width;
  j["height"] = last.source_height;
  j["last_frame"] = last.seq;
  j["last_result_age_ms"] = round_to(static_cast<double>(now - std::min(now, last.done_mono_ns)) / 1e6, 1);
  j["last_detections"] = last.detections.size();
  j["classes"] = classes;
}

nlohmann::json LiveView::process_cpu(std::uint64_t now) const {
  // relaxed below: statistics, read for display.
  nlohmann::json workers = nlohmann::json::array();
  for (std::size_t w = 0; w < worker_cpu_.size(); ++w) {
    workers.push_back(
        round_to(worker_cpu_[w].percent(ctx_.status->workers[w].cpu_ns.load(std::memory_order_relaxed), now), 1));
  }
  const double aggregator =
      aggregator_cpu_.percent(ctx_.status->aggregator_cpu_ns.load(std::memory_order_relaxed), now);
  return {{"workers", workers}, {"aggregator", round_to(aggregator, 1)}};
}

// The result of frame `seq`, waiting for it while it is in work; else the
// newest result of an older frame (the frame was dropped, or it is slow).
std::optional<LiveView::Seen> LiveView::result_for(std::size_t camera, std::uint64_t seq) {
  MutexLock lock(mutex_);
  const auto& recent = recent_[camera];
  const auto deadline = std::chrono::steady_clock::now() + kResultWait;
  auto exact = std::ranges::find(recent, seq, &Seen::seq);
  while (!closed_ && exact == recent.end()) {
    if (!lock.wait_until(observed_, deadline)) break;
    exact = std::ranges::find(recent, seq, &Seen::seq);
  }
  if (exact != recent.end()) return *exact;
  std::optional<Seen> older;
  for (const Seen& s : recent) {
    if (s.seq < seq && (!older || s.seq > older->seq)) older = s;
  }
  return older;
}

http::Reply LiveView::latest_frame(const std::string& name) {
  const auto c = camera_index(name);
  if (!c) {
    std::string names;
    for (const auto& cam : ctx_.config->cameras) names += (names.empty() ? "" : ", ") + cam.name;
    return http::error_reply(404, fmt::format("no camera \"{}\" in pipeline {}: its cameras are {}", name,
                                              ctx_.config->name, names.empty() ? "none" : names));
  }
  const bus::FrameRing& ring = cameras_[*c];
  const bus::RingGeometry& g = ring.geometry();
  std::vector<std::byte> pixels(g.frame_bytes);
  const auto info = bus::peek_latest(ring, pixels);
  if (!info && info.error().code != bus::BusErrc::timeout) return http::error_reply(503, info.error().message);
  if (!info) {
    return http::error_reply(503, fmt::format("camera {} has no frame yet: its source is starting or down (see "
                                              "GET /v1/cameras and the pipeline's log)",
                                              name));
  }
  const auto record = read_record(info->meta);
  if (!record) return http::error_reply(503, fmt::format("camera {}'s newest frame: {}", name, record.error().message));
  const auto seen = result_for(*c, info->frame_seq);
  std::vector<LabelledBox> boxes;
  if (seen) {
    for (std::size_t i = 0; i < seen->detections.size(); ++i) {
      const auto& d = seen->detections[i];
      const std::uint64_t id = i < seen->track_ids.size() ? seen->track_ids[i] : 0;
      boxes.push_back({{d.x1, d.y1, d.x2, d.y2},
                       d.class_id,
                       id != 0 ? fmt::format("{} #{} {:.2f}", class_name(ctx_.model.names, d.class_id), id, d.score)
                               : fmt::format("{} {:.2f}", class_name(ctx_.model.names, d.class_id), d.score)});
    }
  }
  const auto& p = record->placement;
  const Overlay overlay = overlay_of(ctx_.config->cameras[*c], p.source_width, p.source_height);
  const std::vector<std::uint8_t> jpeg = picture_jpeg(g, pixels, p, boxes, &overlay);
  if (jpeg.empty()) return http::error_reply(503, fmt::format("camera {}'s newest frame has no picture", name));
  http::Reply r;
  r.content_type = "image/jpeg";
  r.body.assign(jpeg.begin(), jpeg.end());
  r.headers = {{"Cache-Control", "no-store"},
               {"X-Shmyolo-Frame", std::to_string(info->frame_seq)},
               {"X-Shmyolo-Boxes-Frame", seen ? std::to_string(seen->seq) : "none"},
               {"X-Shmyolo-Detections", std::to_string(seen ? seen->detections.size() : 0)}};
  return r;
}

void LiveView::push(std::size_t camera, const std::string& type, const std::string& event) {
  for (const auto& s : subscribers_) {
    if (s->camera != camera && s->camera != cameras_.size()) continue;
    if (!s->types.empty() && std::ranges::find(s->types, type) == s->types.end()) continue;
    if (s->queue.size() == kQueueLimit) {
      s->queue.pop_front();
      ++s->dropped;
    }
    s->queue.push_back(event);
  }
}

void LiveView::observe_event(std::size_t camera, const std::string& type, const std::string& json) {
  {
    const MutexLock lock(mutex_);
    if (subscribers_.empty()) return;
    push(camera, type, fmt::format("event: {}\ndata: {}\n\n", type, json));
  }
  observed_.notify_all();
}

void LiveView::observe_tracks(std::size_t camera, nlohmann::json tracks, std::map<std::string, std::string> counts) {
  const MutexLock lock(mutex_);
  tracks_[camera] = {.active = std::move(tracks), .counts = std::move(counts)};
}

http::Reply LiveView::tracks(const std::map<std::string, std::string>& params) const {
  std::optional<std::size_t> only;
  for (const auto& [key, value] : params) {
    if (key != "camera") return http::error_reply(400, fmt::format("unknown parameter \"{}\" (expected camera)", key));
    only = camera_index(value);
    if (!only) return http::error_reply(404, fmt::format("no camera \"{}\" in pipeline {}", value, ctx_.config->name));
  }
  nlohmann::json list = nlohmann::json::array();
  {
    const MutexLock lock(mutex_);
    for (std::size_t c = 0; c < cameras_.size(); ++c) {
      if (only && *only != c) continue;
      nlohmann::json counts = nlohmann::json::object();
      for (const auto& [topic, value] : tracks_[c].counts) counts[topic] = nlohmann::json::parse(value, nullptr, false);
      list.push_back({{"camera", ctx_.config->cameras[c].name},
                      {"tracking", ctx_.config->cameras[c].tracker.enabled},
                      {"tracks", tracks_[c].active},
                      {"counts", counts}});
    }
  }
  http::Reply r;
  r.headers.emplace_back("Cache-Control", "no-store");
  r.body = nlohmann::json{{"pipeline", ctx_.config->name}, {"cameras", list}}.dump() + "\n";
  return r;
}

void LiveView::track_metrics(std::string& out) const {
  const std::string p = fmt::format("pipeline=\"{}\"", ctx_.config->name);
  const MutexLock lock(mutex_);
  out += "# HELP shmyolo_tracks_active Confirmed tracks each camera follows now.\n# TYPE shmyolo_tracks_active gauge\n";
  for (std::size_t c = 0; c < cameras_.size(); ++c) {
    out += fmt::format("shmyolo_tracks_active{{{},camera=\"{}\"}} {}\n", p, ctx_.config->cameras[c].name,
                       tracks_[c].active.size());
  }
  std::string occupancy;
  std::string crossings;
  for (std::size_t c = 0; c < cameras_.size(); ++c) {
    const std::string camera = fmt::format("{},camera=\"{}\"", p, ctx_.config->cameras[c].name);
    for (const auto& [topic, value] : tracks_[c].counts) {
      const std::size_t slash = topic.find('/');
      const std::string place = topic.substr(0, slash);
      const std::string what = topic.substr(slash + 1);
      if (what != "crossings") {
        occupancy +=
            fmt::format("shmyolo_zone_occupancy{{{},zone=\"{}\",class=\"{}\"}} {}\n", camera, place, what, value);
        continue;
      }
      const auto j = nlohmann::json::parse(value, nullptr, false);
      for (const char* direction : {"forward", "backward"}) {
        crossings += fmt::format("shmyolo_line_crossings_total{{{},line=\"{}\",direction=\"{}\"}} {}\n", camera, place,
                                 direction, j.value(direction, 0));
      }
    }
  }
  out +=
      "# HELP shmyolo_zone_occupancy Tracks in each zone (all: the whole frame) by class now.\n"
      "# TYPE shmyolo_zone_occupancy gauge\n" +
      occupancy;
  out +=
      "# HELP shmyolo_line_crossings_total Tracks that crossed each line, by direction.\n"
      "# TYPE shmyolo_line_crossings_total counter\n" +
      crossings;
}

std::expected<std::unique_ptr<http::EventStream>, http::Reply> LiveView::subscribe(
    const std::map<std::string, std::string>& params) {
  static const std::vector<std::string> kTypes{"detections", "new", "update", "end", "enter", "leave", "cross"};
  std::size_t camera = cameras_.size();
  std::vector<std::string> types;
  for (const auto& [key, value] : params) {
    if (key == "type") {
      for (const auto part : std::views::split(value, ',')) {
        std::string type(part.begin(), part.end());
        if (std::ranges::find(kTypes, type) == kTypes.end()) {
          return std::unexpected(http::error_reply(
              400, fmt::format("type: unknown event \"{}\" (expected detections, new, update, end, enter, leave, "
                               "cross, comma-separated)",
                               type)));
        }
        types.push_back(std::move(type));
      }
      continue;
    }
    if (key != "camera")
      return std::unexpected(
          http::error_reply(400, fmt::format("unknown parameter \"{}\" (expected camera, type)", key)));
    const auto c = camera_index(value);
    if (!c)
      return std::unexpected(
          http::error_reply(404, fmt::format("no camera \"{}\" in pipeline {}", value, ctx_.config->name)));
    camera = *c;
  }
  const MutexLock lock(mutex_);
  if (closed_) return std::unexpected(http::error_reply(503, "the service is stopping: retry on another instance"));
  if (std::cmp_greater_equal(subscribers_.size(), max_streams_)) {
    return std::unexpected(http::error_reply(
        503, fmt::format("{} event streams are open, the most this service keeps (half of http.threads): close one, "
                         "or raise http.threads",
                         subscribers_.size())));
  }
  subscribers_.push_back(
      std::make_unique<Subscriber>(Subscriber{.camera = camera, .types = std::move(types), .queue = {}, .dropped = 0}));
  return std::make_unique<EventFeed>(*this, subscribers_.back().get());
}

void LiveView::end_stream(Subscriber* s) {
  const MutexLock lock(mutex_);
  std::erase_if(subscribers_, [s](const auto& p) { return p.get() == s; });
}

}  // namespace shmyolo::pipeline
