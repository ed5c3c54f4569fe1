#include "live_view.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

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
constexpr int kJpegQuality = 85;  // OpenCV's default is 95; tiles refresh several times a second

// One colour per class, far apart in hue (the golden angle), bright on video.
cv::Scalar class_colour(int class_id) {
  const int hue = class_id * 137 % 360 / 2;  // OpenCV's 8-bit hue runs 0-179
  cv::Mat hsv(1, 1, CV_8UC3, cv::Scalar(hue, 220, 255));
  cv::Mat bgr;
  cv::cvtColor(hsv, bgr, cv::COLOR_HSV2BGR);
  const auto px = bgr.at<cv::Vec3b>(0, 0);
  return {static_cast<double>(px[0]), static_cast<double>(px[1]), static_cast<double>(px[2])};
}

// Draws source-pixel boxes on the slot's content: the frame's own placement
// maps them, so a region of interest or a stretch lands where the model saw it.
void draw_boxes(cv::Mat& image, const std::vector<ResultDetection>& detections, const Placement& placement,
                const std::vector<std::string>& names) {
  const detect::Box content = placement.content();
  for (const auto& d : detections) {
    const cv::Scalar colour = class_colour(d.class_id);
    const detect::Box in_slot = placement.to_slot({d.x1, d.y1, d.x2, d.y2});
    const cv::Point a(static_cast<int>(in_slot.x1 - content.x1), static_cast<int>(in_slot.y1 - content.y1));
    const cv::Point b(static_cast<int>(in_slot.x2 - content.x1), static_cast<int>(in_slot.y2 - content.y1));
    cv::rectangle(image, a, b, colour, 2);
    const std::string label = fmt::format("{} {:.2f}", class_name(names, d.class_id), d.score);
    int baseline = 0;
    const cv::Size size = cv::getTextSize(label, cv::FONT_HERSHEY_SIMPLEX, 0.45, 1, &baseline);
    const cv::Point origin(a.x, std::max(a.y, size.height + 4));
    cv::rectangle(image, origin - cv::Point(0, size.height + 4), origin + cv::Point(size.width + 4, 0), colour,
                  cv::FILLED);
    cv::putText(image, label, origin + cv::Point(2, -3), cv::FONT_HERSHEY_SIMPLEX, 0.45, cv::Scalar(0, 0, 0), 1,
                cv::LINE_AA);
  }
}

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
    : ctx_(ctx), cameras_(cameras), max_streams_(max_streams), recent_(cameras.size()) {}

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

void LiveView::observe(const ResultRecord& r, const std::string& json_line) {
  {
    const MutexLock lock(mutex_);
    auto& recent = recent_[r.camera];
    recent.push_back({.seq = r.frame_seq,
                      .done_mono_ns = r.done_mono_ns,
                      .end_to_end_ms = static_cast<double>(r.done_mono_ns - r.capture_mono_ns) / 1e6,
                      .source_width = r.source_width,
                      .source_height = r.source_height,
                      .detections = {r.detections.begin(), r.detections.begin() + r.count}});
    if (recent.size() > kRecent) recent.pop_front();
    if (!subscribers_.empty()) {
      std::string event = fmt::format("event: detections\nid: {}\ndata: {}\n\n", r.frame_seq, json_line);
      for (const auto& s : subscribers_) {
        if (s->camera != r.camera && s->camera != cameras_.size()) continue;
        if (s->queue.size() == kQueueLimit) {
          s->queue.pop_front();
          ++s->dropped;
        }
        s->queue.push_back(event);
      }
    }
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
  for (std::size_t c = 0; c < cameras_.size(); ++c) {
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
    j["latency_ms"]["end_to_end"] = percentiles_json(latencies);
    if (!recent.empty()) {
      const Seen& last = recent.back();
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
    list.push_back(std::move(j));
  }
  http::Reply r;
  r.headers.emplace_back("Cache-Control", "no-store");
  r.body = nlohmann::json{{"pipeline", ctx_.config->name}, {"cameras", list}}.dump() + "\n";
  return r;
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
  // The picture without its letterbox padding, at the slot's scale.
  const cv::Mat slot(static_cast<int>(g.height), static_cast<int>(g.width), CV_8UC3, pixels.data(), g.row_stride);
  const detect::Box area = record->placement.content();
  const cv::Rect content =
      cv::Rect(cv::Point(static_cast<int>(std::lround(area.x1)), static_cast<int>(std::lround(area.y1))),
               cv::Point(static_cast<int>(std::lround(area.x2)), static_cast<int>(std::lround(area.y2)))) &
      cv::Rect(0, 0, slot.cols, slot.rows);
  if (content.empty()) return http::error_reply(503, fmt::format("camera {}'s newest frame has no picture", name));
  cv::Mat picture = slot(content).clone();
  if (seen) draw_boxes(picture, seen->detections, record->placement, ctx_.model.names);
  std::vector<std::uint8_t> jpeg;
  cv::imencode(".jpg", picture, jpeg, {cv::IMWRITE_JPEG_QUALITY, kJpegQuality});
  http::Reply r;
  r.content_type = "image/jpeg";
  r.body.assign(jpeg.begin(), jpeg.end());
  r.headers = {{"Cache-Control", "no-store"},
               {"X-Shmyolo-Frame", std::to_string(info->frame_seq)},
               {"X-Shmyolo-Boxes-Frame", seen ? std::to_string(seen->seq) : "none"},
               {"X-Shmyolo-Detections", std::to_string(seen ? seen->detections.size() : 0)}};
  return r;
}

std::expected<std::unique_ptr<http::EventStream>, http::Reply> LiveView::subscribe(
    const std::map<std::string, std::string>& params) {
  std::size_t camera = cameras_.size();
  for (const auto& [key, value] : params) {
    if (key != "camera")
      return std::unexpected(http::error_reply(400, fmt::format("unknown parameter \"{}\" (expected camera)", key)));
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
  subscribers_.push_back(std::make_unique<Subscriber>(Subscriber{.camera = camera, .queue = {}, .dropped = 0}));
  return std::make_unique<EventFeed>(*this, subscribers_.back().get());
}

void LiveView::end_stream(Subscriber* s) {
  const MutexLock lock(mutex_);
  std::erase_if(subscribers_, [s](const auto& p) { return p.get() == s; });
}

}  // namespace shmyolo::pipeline
