// Every rule on a configuration's values, in one place: the YAML reader
// checks shapes and types, then these; a config built in code (the demo,
// serve --model, the benchmarks) meets the same rules in run_pipeline.
#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "violation.hpp"

namespace shmyolo::config {
namespace detail {
namespace {

class Checker {
 public:
  // lo <= v <= hi; NaN fails both comparisons, so it is refused too.
  template <class T>
  void range(const std::string& key, T value, T lo, T hi) {
    if (!(lo <= value && value <= hi)) rule(false, key, fmt::format("must be {} to {}, got {}", lo, hi, value));
  }
  void rule(bool ok, const std::string& key, std::string what) {
    if (!ok) found_.push_back(Violation{key, std::move(what)});
  }
  [[nodiscard]] std::vector<Violation> found() && { return std::move(found_); }

 private:
  std::vector<Violation> found_;
};

constexpr const char* kNameRule = "use 1 to 32 of A-Z a-z 0-9 _ - (it names shared-memory segments)";

void check_model(Checker& c, const ModelConfig& m) {
  if (m.options.input_size) c.range("model.input_size", *m.options.input_size, 32, 4096);
  c.range("model.confidence", m.confidence, 0.0F, 1.0F);
  c.range("model.iou", m.iou, 0.0F, 1.0F);
  c.range<std::size_t>("model.max_detections", m.max_detections, 1, 1000);
}

void check_workers(Checker& c, const WorkerConfig& w) {
  c.range("workers.count", w.count, 1, 64);
  c.range("workers.threads", w.threads, 1, 64);
  c.range("workers.batch", w.batch, 1, 64);
  c.range("workers.stuck_after", w.stuck_after_s, 1.0, 3600.0);
}

void check_http(Checker& c, const HttpConfig& h) {
  in_addr addr{};
  c.rule(::inet_pton(AF_INET, h.bind.c_str(), &addr) == 1, "http.bind",
         fmt::format("\"{}\" is not an IPv4 address (e.g. 0.0.0.0 or 127.0.0.1)", h.bind));
  c.range("http.port", h.port, 0, 65535);
  c.range("http.threads", h.threads, 1, 256);
  c.range("http.max_connections", h.max_connections, 1, 65536);
  c.rule(h.max_connections >= h.threads, "http.max_connections",
         fmt::format("{} is below http.threads ({}): threads would never all be used", h.max_connections, h.threads));
  c.range("http.header_timeout", h.header_timeout_s, 0.1, 3600.0);
  c.range("http.request_timeout", h.request_timeout_s, 0.1, 3600.0);
  c.rule(h.request_timeout_s >= h.header_timeout_s, "http.request_timeout",
         fmt::format("{} is below http.header_timeout ({}): a request includes its head", h.request_timeout_s,
                     h.header_timeout_s));
  c.range("http.queue", h.queue, 0, 1024);
  c.range("http.max_body_mb", h.max_body_mb, 0.001, 1024.0);
  c.range("http.max_megapixels", h.max_megapixels, 0.01, 1000.0);
  c.range("http.decode_megapixels", h.decode_megapixels, 0.01, 100000.0);
  c.rule(h.decode_megapixels >= h.max_megapixels, "http.decode_megapixels",
         fmt::format("{} is below http.max_megapixels ({}): the largest image allowed could never be decoded",
                     h.decode_megapixels, h.max_megapixels));
  c.range("http.timeout", h.timeout_s, 0.1, 3600.0);
  c.range("http.read_timeout", h.read_timeout_s, 0.1, 3600.0);
  c.rule(!(h.no_auth && !h.tokens_file.empty()), "http.auth", "none and a tokens_file exclude each other: pick one");
  c.rule(h.tls_cert.empty() == h.tls_key.empty(), "http.tls", "cert and key go together (PEM files)");
}

void check_undistort(Checker& c, const Undistort& u, const std::string& key) {
  const auto& m = u.camera_matrix;
  c.rule(m[0] > 0 && m[4] > 0 && std::ranges::all_of(m, [](double v) { return std::isfinite(v); }),
         key + ".camera_matrix", "expected 9 numbers [fx, 0, cx, 0, fy, cy, 0, 0, 1], fx, fy > 0");
  const std::size_t n = u.distortion.size();
  c.rule(n == 4 || n == 5 || n == 8, key + ".distortion", "expected 4, 5 or 8 coefficients");
}

void check_tracker(Checker& c, const TrackerConfig& t, const std::string& key) {
  const auto& o = t.options;
  c.range(key + ".high_score", o.high_score, 0.0F, 1.0F);
  c.range(key + ".low_score", o.low_score, 0.0F, o.high_score);
  // Only sure (high-score) detections are left to start tracks.
  c.range(key + ".new_track_score", o.new_track_score, o.high_score, 1.0F);
  c.range(key + ".match_iou", o.match_iou, 0.01F, 1.0F);
  c.range(key + ".low_match_iou", o.low_match_iou, 0.01F, 1.0F);
  c.range(key + ".confirm_hits", o.confirm_hits, 1, 100);
  c.range(key + ".max_lost", o.max_lost_s, 0.01, 3600.0);
  c.range(key + ".update_interval", t.update_interval_s, 0.0, 86400.0);
  c.range(key + ".stationary_after", t.stationary_after_s, 0.1, 86400.0);
}

// The frame size a camera's zones and lines are checked against: 1 x 1 when
// normalised, a synthetic camera's own size, else unknown until the first
// frame (the aggregator checks then).
std::optional<Point> frame_extent(const CameraConfig& cam) {
  if (cam.normalized) return Point{1, 1};
  if (cam.kind == SourceKind::synthetic) return Point{double(cam.synthetic.width), double(cam.synthetic.height)};
  return std::nullopt;
}

void check_point(Checker& c, Point p, const std::optional<Point>& extent, const std::string& key) {
  std::string frame = "the frame";
  if (extent)
    frame =
        extent->x == 1.0 ? "the frame (coordinates: normalized)" : fmt::format("the {}x{} frame", extent->x, extent->y);
  c.rule(p.x >= 0 && p.y >= 0 && (!extent || (p.x <= extent->x && p.y <= extent->y)), key,
         fmt::format("[{}, {}] is outside {}", p.x, p.y, frame));
}

// A zone's or a line's name: valid, and not taken by another of the camera's.
void check_place_name(Checker& c, const std::string& name, std::set<std::string>& taken, const std::string& key) {
  c.rule(valid_name(name), key, kNameRule);
  c.rule(taken.insert(name).second, key,
         fmt::format("\"{}\" is taken (zones and lines of a camera need their own names, and not \"all\")", name));
}

void check_scene(Checker& c, const CameraConfig& cam, const std::string& key) {
  if (cam.tracker.enabled) check_tracker(c, cam.tracker, key + ".tracker");
  c.rule(cam.tracker.enabled || (cam.zones.empty() && cam.lines.empty()), key + ".tracker",
         "zones and lines follow tracks: remove tracker: false, or the zones and lines");
  const auto extent = frame_extent(cam);
  std::set<std::string> names{"all"};  // "all" names every class's count in MQTT topics
  for (std::size_t i = 0; i < cam.zones.size(); ++i) {
    const auto& z = cam.zones[i];
    const std::string zk = fmt::format("{}.zones[{}]", key, i);
    check_place_name(c, z.name, names, zk + ".name");
    c.rule(z.points.size() >= 3, zk + ".points",
           fmt::format("a zone needs at least 3 points, got {}", z.points.size()));
    for (std::size_t p = 0; p < z.points.size(); ++p)
      check_point(c, z.points[p], extent, fmt::format("{}.points[{}]", zk, p));
    c.rule(!track::self_intersecting(z.points), zk + ".points",
           "the polygon crosses itself: list the corners in order around the zone");
    c.rule(z.points.size() < 3 || track::area(z.points) > 0, zk + ".points", "the polygon has no area");
    c.range(zk + ".min_dwell", z.min_dwell_s, 0.0, 86400.0);
  }
  for (std::size_t i = 0; i < cam.lines.size(); ++i) {
    const auto& l = cam.lines[i];
    const std::string lk = fmt::format("{}.lines[{}]", key, i);
    check_place_name(c, l.name, names, lk + ".name");
    check_point(c, l.from, extent, lk + ".from");
    check_point(c, l.to, extent, lk + ".to");
    c.rule(l.from.x != l.to.x || l.from.y != l.to.y, lk + ".to",
           "the line has no length: from and to are the same point");
  }
}

// The decoder reads what it can; decoding less needs FFmpeg's decoder.
void check_decoding(Checker& c, const CameraConfig& cam, const std::string& key) {
  const bool file_or_stream = cam.kind == SourceKind::video_file || cam.kind == SourceKind::stream;
  const bool has_decoder = cam.kind != SourceKind::synthetic && cam.kind != SourceKind::image_folder;
  c.rule(!cam.decoder || has_decoder, key + ".decoder", "this source has no video decoder to choose: drop decoder:");
  c.rule(!cam.decoder || *cam.decoder == Decoder::opencv || file_or_stream, key + ".decoder",
         "ffmpeg reads video files and network streams; a device is read by opencv: drop decoder:");
  const DecodeMode mode = decode_of(cam);
  c.rule(mode == DecodeMode::all || (file_or_stream && decoder_of(cam) == Decoder::ffmpeg), key + ".decode",
         "keyframes and auto need a video file or stream read by decoder: ffmpeg");
  c.rule(mode != DecodeMode::automatic || cam.delivery == bus::Delivery::latest, key + ".decode",
         "auto drops frames while workers are behind: it needs delivery: latest (use all or keyframes with queue)");
  c.rule(!cam.realtime || cam.kind == SourceKind::video_file, key + ".realtime",
         "only a video file plays in real time (streams and cameras already do): drop realtime:");
}

// A camera fed from outside gets frames its producer has already decoded,
// paced and placed: what the pipeline would do to a source does not apply.
void check_external(Checker& c, const CameraConfig& cam, const std::string& key) {
  const std::string why = "not for source: external (its producer decodes, paces and places the frames): drop it";
  c.rule(cam.fps == -1, key + ".fps", why);
  c.rule(!cam.loop, key + ".loop", why);
  c.rule(cam.frames == 0, key + ".frames", why);
  c.rule(!cam.roi, key + ".roi", why);
  c.rule(!cam.undistort, key + ".undistort", why);
  c.rule(cam.color == SourceColor::bgr, key + ".color", why);
  c.rule(!cam.decoder, key + ".decoder", why);
  c.rule(!cam.decode, key + ".decode", why);
  c.rule(!cam.realtime, key + ".realtime", why);
}

void check_camera(Checker& c, const CameraConfig& cam, const std::string& key) {
  c.rule(valid_name(cam.name), key + ".name", kNameRule);
  c.rule(!cam.source.empty(), key + ".source",
         "missing: a video file, image folder, rtsp:// or http:// URL, /dev/videoN, synthetic: or external");
  // -1: the source's own rate (the default); 0: unpaced.
  if (cam.fps != -1) c.range(key + ".fps", cam.fps, 0.0, 1000.0);
  if (cam.slots != 0) c.range<std::uint32_t>(key + ".slots", cam.slots, 2, 256);
  c.range<std::uint64_t>(key + ".frames", cam.frames, 0, 1ULL << 40);
  if (cam.roi) {
    c.range(key + ".roi.x", cam.roi->x, 0, 65535);
    c.range(key + ".roi.y", cam.roi->y, 0, 65535);
    c.range(key + ".roi.width", cam.roi->width, 2, 65535);
    c.range(key + ".roi.height", cam.roi->height, 2, 65535);
  }
  if (cam.undistort) check_undistort(c, *cam.undistort, key + ".undistort");
  if (cam.kind == SourceKind::external) {
    check_external(c, cam, key);
  } else {
    check_decoding(c, cam, key);
  }
  check_scene(c, cam, key);
}

void check_cameras(Checker& c, const PipelineConfig& p) {
  c.rule(!p.cameras.empty() || p.http.has_value(), "cameras", "missing: list at least one camera (or add http:)");
  c.rule(p.cameras.size() <= 64, "cameras", "at most 64 cameras per pipeline");
  std::set<std::string> names;
  for (std::size_t i = 0; i < p.cameras.size(); ++i) {
    const std::string key = fmt::format("cameras[{}]", i);
    check_camera(c, p.cameras[i], key);
    c.rule(names.insert(p.cameras[i].name).second, key + ".name",
           fmt::format("\"{}\" is used twice: camera names must differ", p.cameras[i].name));
  }
}

void check_mqtt(Checker& c, const MqttConfig& m) {
  c.rule(!m.host.empty(), "outputs.mqtt.host", "empty: name the broker's host");
  c.range("outputs.mqtt.port", m.port, 1, 65535);
  c.range("outputs.mqtt.qos", m.qos, 0, 2);
  // MQTT 3.1.1 (section 1.5.3) caps a string at 65,535 bytes, and brokers
  // need only take client ids of 23; mosquitto takes any length up to the cap.
  c.rule(
      m.client_id.size() <= 65535, "outputs.mqtt.client_id",
      fmt::format("{} bytes long; MQTT allows at most 65535 (23 or fewer work with every broker)", m.client_id.size()));
  c.range("outputs.mqtt.keepalive", m.keepalive_s, 5, 3600);
  c.rule(m.password.empty() || !m.username.empty(), "outputs.mqtt.password", "a password needs outputs.mqtt.username");
  c.rule(!m.tls_ca.empty() || (m.tls_cert.empty() && m.tls_key.empty()), "outputs.mqtt.tls.ca",
         "missing: the CA certificate that signed the broker's");
  c.rule(m.tls_cert.empty() == m.tls_key.empty(), "outputs.mqtt.tls",
         "cert and key go together (a client certificate and its key)");
}

void check_alarms(Checker& c, const PipelineConfig& p) {
  if (!p.outputs.modbus) return;
  std::set<int> bits;
  std::set<std::string> names;
  for (std::size_t i = 0; i < p.outputs.modbus->alarms.size(); ++i) {
    const auto& a = p.outputs.modbus->alarms[i];
    const std::string key = fmt::format("outputs.modbus.alarms[{}]", i);
    c.rule(valid_name(a.name), key + ".name", kNameRule);
    c.rule(names.insert(a.name).second, key + ".name",
           fmt::format("\"{}\" is used twice: alarms need their own names", a.name));
    const auto cam = std::ranges::find(p.cameras, a.camera, &CameraConfig::name);
    c.rule(cam != p.cameras.end(), key + ".camera", fmt::format("no camera \"{}\" in cameras", a.camera));
    if (cam != p.cameras.end() && !a.zone.empty()) {
      c.rule(std::ranges::find(cam->zones, a.zone, &ZoneConfig::name) != cam->zones.end(), key + ".zone",
             fmt::format("camera {} has no zone \"{}\"", a.camera, a.zone));
    }
    c.range(key + ".bit", a.bit, 0, 1999);
    c.rule(bits.insert(a.bit).second, key + ".bit", fmt::format("discrete input {} is another alarm's", a.bit));
    c.range(key + ".min", a.min, 1, 1000);
    c.range(key + ".on_after", a.on_after_s, 0.0, 3600.0);
    c.range(key + ".off_after", a.off_after_s, 0.0, 3600.0);
  }
}

void check_outputs(Checker& c, const OutputConfig& o) {
  c.range("outputs.stats_interval", o.stats_interval_s, 0.2, 3600.0);
  if (o.mqtt) check_mqtt(c, *o.mqtt);
  if (o.modbus) {
    in_addr addr{};
    c.rule(::inet_pton(AF_INET, o.modbus->bind.c_str(), &addr) == 1, "outputs.modbus.bind",
           fmt::format("\"{}\" is not an IPv4 address (e.g. 0.0.0.0 or 127.0.0.1)", o.modbus->bind));
    c.range("outputs.modbus.port", o.modbus->port, 1, 65535);
    c.range("outputs.modbus.unit_id", o.modbus->unit_id, 0, 255);
    c.range("outputs.modbus.max_clients", o.modbus->max_clients, 1, 256);
    c.range<std::size_t>("outputs.modbus.classes", o.modbus->classes.size(), 0, 16);
  }
  if (o.snapshots) {
    c.range("outputs.snapshots.max_mb", o.snapshots->max_mb, 0.1, 1e7);
    c.range("outputs.snapshots.max_age", o.snapshots->max_age_s, 1.0, 1e9);
  }
}

}  // namespace

bool valid_name(const std::string& name) {
  return !name.empty() && name.size() <= 32 && std::ranges::all_of(name, [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
  });
}

std::vector<Violation> violations(const PipelineConfig& config) {
  Checker c;
  c.rule(valid_name(config.name), "name", kNameRule);
  check_model(c, config.model);
  check_workers(c, config.workers);
  if (config.http) check_http(c, *config.http);
  check_cameras(c, config);
  check_outputs(c, config.outputs);
  check_alarms(c, config);
  return std::move(c).found();
}

}  // namespace detail

std::string_view to_string(ConfigErrc code) {
  switch (code) {
    case ConfigErrc::unreadable: return "config unreadable";
    case ConfigErrc::syntax: return "config is not YAML";
    case ConfigErrc::invalid: return "config not valid";
    case ConfigErrc::secret_missing: return "secret not found";
  }
  return "config error";
}

ConfigResult<void> validate(const PipelineConfig& config) {
  const auto found = detail::violations(config);
  if (found.empty()) return {};
  const std::string origin = config.file.empty() ? "" : config.file.string() + ": ";
  std::string lines;
  for (const auto& v : found) lines += fmt::format("{}{}{}: {}", lines.empty() ? "" : "\n", origin, v.key, v.what);
  return make_error(ConfigErrc::invalid, lines);
}

}  // namespace shmyolo::config
