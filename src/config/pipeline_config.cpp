#include <shmyolo/config/pipeline_config.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <shmyolo/detect/layouts.hpp>
#include <shmyolo/nearest_word.hpp>
#include "violation.hpp"

namespace shmyolo::config {
namespace {

// A mistake in the file: where it is (line -1 where the key has no place, as
// a missing key), for telling mistakes in the file's order, and its one-line
// message.
struct Mistake {
  int line = -1;
  int column = 0;
  std::string message;
};

// Thrown inside the reader only, at a mistake reading cannot go past; parse()
// turns it, with the mistakes noted before it, into a ConfigError. No mistake
// of its own where one noted at the same key says it already.
struct Invalid {
  std::optional<Mistake> mistake;
};

// At most this many mistakes are told at once: a screen's worth, as a
// compiler stops after its first errors; the rest are counted.
constexpr std::size_t kMostMistakesTold = 10;

class Reader {
 public:
  Reader(std::string origin, std::filesystem::path base) : origin_(std::move(origin)), base_(std::move(base)) {}

  // A value of the wrong kind where one is required is noted as that, not
  // told a second time as missing.
  [[noreturn]] void fail(const YAML::Node& node, const std::string& key, const std::string& what) const {
    if (noted(key)) throw Invalid{};
    throw Invalid{located(node, key, what)};
  }

  // A mistake reading can go past (an unknown key, a value of the wrong kind,
  // an unknown word, a missing file): noted, the default kept, and reading
  // goes on, so that one run names every such mistake in the file.
  void note(const YAML::Node& node, const std::string& key, const std::string& what) const {
    noted_.push_back(located(node, key, what));
    noted_keys_.insert(key);
  }

  // Whether a mistake was noted at this key: its value is then the default,
  // which the value rules need not be told about a second time.
  [[nodiscard]] bool noted(const std::string& key) const { return noted_keys_.contains(key); }

  // Every mistake noted, then `last` (where reading stopped, if it did), in
  // the file's order, one per line.
  [[nodiscard]] std::string report(std::optional<Mistake> last) const {
    std::vector<Mistake> all = noted_;
    if (last) all.push_back(*std::move(last));
    std::ranges::stable_sort(all, {},
                             [](const Mistake& m) { return std::pair(m.line < 0 ? INT_MAX : m.line, m.column); });
    std::string lines;
    for (std::size_t i = 0; i < all.size() && i < kMostMistakesTold; ++i) {
      lines += (lines.empty() ? "" : "\n") + all[i].message;
    }
    if (all.size() > kMostMistakesTold) {
      lines += fmt::format("\n{}: {} more mistakes after these: fix these, then run again", origin_,
                           all.size() - kMostMistakesTold);
    }
    return lines;
  }

  [[nodiscard]] bool clean() const { return noted_.empty(); }

  void expect_map(const YAML::Node& node, const std::string& key) const {
    if (!node.IsMap()) fail(node, key, "expected a mapping of keys to values");
  }

  void only_keys(const YAML::Node& node, const std::string& key, std::initializer_list<const char*> allowed) const {
    expect_map(node, key);
    for (const auto& entry : node) {
      const auto name = entry.first.as<std::string>();
      if (std::ranges::find_if(allowed, [&](const char* a) { return name == a; }) != allowed.end()) continue;
      const std::vector<std::string> known(allowed.begin(), allowed.end());
      note(entry.first, key.empty() ? name : fmt::format("{}.{}", key, name),
           fmt::format("unknown key (expected one of: {}){}", fmt::join(known, ", "), did_you_mean(name, known)));
    }
  }

  template <class T>
  bool read(const YAML::Node& parent, const char* field, const std::string& key, T& out) const {
    const YAML::Node node = parent[field];
    if (!node.IsDefined() || node.IsNull()) return false;
    if (!node.IsScalar()) {
      note(node, key, fmt::format("expected {}, got a {}", kind_of<T>(), node.IsMap() ? "mapping" : "list"));
      return false;
    }
    T value{};
    try {
      value = node.as<T>();
    } catch (const YAML::Exception&) {
      note(node, key, fmt::format("expected {}, got \"{}\"", kind_of<T>(), node.Scalar()));
      return false;
    }
    // YAML's .nan and .inf are numbers to yaml-cpp, and NaN passes every
    // range check (each comparison is false): refuse them here, once.
    if constexpr (std::is_floating_point_v<T>) {
      if (!std::isfinite(value)) {
        note(node, key, fmt::format("expected a finite number, got \"{}\"", node.Scalar()));
        return false;
      }
    }
    out = std::move(value);
    return true;
  }

  [[nodiscard]] std::filesystem::path resolve(const std::string& path) const {
    const std::filesystem::path p(path);
    return p.is_absolute() ? p : (base_ / p).lexically_normal();
  }

  [[nodiscard]] const std::filesystem::path& base() const { return base_; }

 private:
  template <class T>
  static const char* kind_of() {
    if constexpr (std::is_same_v<T, bool>)
      return "true or false";
    else if constexpr (std::is_integral_v<T>)
      return "a whole number";
    else if constexpr (std::is_floating_point_v<T>)
      return "a number";
    else
      return "text";
  }

  [[nodiscard]] Mistake located(const YAML::Node& node, const std::string& key, const std::string& what) const {
    const YAML::Mark mark = node.IsDefined() ? node.Mark() : YAML::Mark::null_mark();
    if (mark.line >= 0) {
      return {mark.line + 1, mark.column, one_line(fmt::format("{}:{}: {}: {}", origin_, mark.line + 1, key, what))};
    }
    return {-1, 0, one_line(fmt::format("{}: {}: {}", origin_, key, what))};
  }

  std::string origin_;
  std::filesystem::path base_;
  // Noted through the const Reader every read_* function takes.
  mutable std::vector<Mistake> noted_;
  mutable std::set<std::string> noted_keys_;
};

void read_model(const Reader& r, const YAML::Node& node, ModelConfig& m) {
  r.only_keys(node, "model",
              {"path", "engine", "confidence", "iou", "max_detections", "classes", "layout", "input_size", "names"});
  std::string path;
  if (!r.read(node, "path", "model.path", path)) r.fail(node, "model.path", "missing: the model file (.onnx)");
  m.options.path = r.resolve(path);
  if (std::error_code ec; !std::filesystem::is_regular_file(m.options.path, ec)) {
    r.note(node["path"], "model.path",
           fmt::format("no file at {}: check the path (relative paths start at the config's folder)",
                       m.options.path.string()));
  }
  std::string engine;
  if (r.read(node, "engine", "model.engine", engine)) {
    if (engine == "ort" || engine == "onnxruntime")
      m.options.engine = detect::Engine::onnxruntime;
    else if (engine == "opencv")
      m.options.engine = detect::Engine::opencv;
    else
      r.note(node["engine"], "model.engine", fmt::format("expected ort or opencv, got \"{}\"", engine));
  }
  std::string layout;
  if (r.read(node, "layout", "model.layout", layout)) {
    m.options.layout = detect::parse_layout(layout);
    if (!m.options.layout) {
      r.note(node["layout"], "model.layout", fmt::format("unknown layout \"{}\" ({})", layout, detect::layout_list()));
    }
  }
  int input_size = 0;
  if (r.read(node, "input_size", "model.input_size", input_size)) m.options.input_size = input_size;
  std::string names;
  if (r.read(node, "names", "model.names", names)) m.options.names_file = r.resolve(names);
  r.read(node, "confidence", "model.confidence", m.confidence);
  r.read(node, "iou", "model.iou", m.iou);
  r.read(node, "max_detections", "model.max_detections", m.max_detections);
  const YAML::Node classes = node["classes"];
  if (classes.IsDefined() && !classes.IsNull()) {
    if (!classes.IsSequence()) r.fail(classes, "model.classes", "expected a list of class names or indices");
    for (const auto& c : classes) {
      if (!c.IsScalar()) r.fail(c, "model.classes", "expected a class name or index");
      m.classes.push_back(c.Scalar());
    }
  }
}

void read_workers(const Reader& r, const YAML::Node& node, WorkerConfig& w) {
  r.only_keys(node, "workers", {"count", "threads", "batch", "stuck_after"});
  r.read(node, "count", "workers.count", w.count);
  r.read(node, "threads", "workers.threads", w.threads);
  r.read(node, "batch", "workers.batch", w.batch);
  r.read(node, "stuck_after", "workers.stuck_after", w.stuck_after_s);
}

// A file a key names, resolved against the config's folder; it must exist.
std::filesystem::path existing_file(const Reader& r, const YAML::Node& node, const char* key, const std::string& name) {
  std::string file;
  if (!r.read(node, key, name, file)) return {};
  const std::filesystem::path p(file);
  auto path = p.is_absolute() ? p : (r.base() / p).lexically_normal();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    r.note(node[key], name, fmt::format("no file at {}: check the path", path.string()));
  }
  return path;
}

// outputs.mqtt's login and TLS.
void read_mqtt_security(const Reader& r, const YAML::Node& node, MqttConfig& m) {
  for (auto [key, value] : {std::pair{"username", &m.username}, {"password", &m.password}}) {
    if (!r.read(node, key, fmt::format("outputs.mqtt.{}", key), *value)) continue;
    auto expanded = expand_references(*value);
    if (!expanded) r.fail(node[key], fmt::format("outputs.mqtt.{}", key), expanded.error().message);
    *value = *expanded;
  }
  const YAML::Node tls = node["tls"];
  if (!tls.IsDefined()) return;  // a missing key of a const node: only IsDefined() may be asked of it
  if (!tls.IsMap())
    r.fail(tls, "outputs.mqtt.tls", "expected {ca: FILE, cert: FILE, key: FILE} (PEM; cert, key optional)");
  r.only_keys(tls, "outputs.mqtt.tls", {"ca", "cert", "key"});
  m.tls_ca = existing_file(r, tls, "ca", "outputs.mqtt.tls.ca");
  m.tls_cert = existing_file(r, tls, "cert", "outputs.mqtt.tls.cert");
  m.tls_key = existing_file(r, tls, "key", "outputs.mqtt.tls.key");
  if (m.tls_ca.empty()) r.fail(tls, "outputs.mqtt.tls.ca", "missing: the CA certificate that signed the broker's");
}

void read_mqtt(const Reader& r, const YAML::Node& node, MqttConfig& m) {
  r.only_keys(node, "outputs.mqtt",
              {"host", "port", "topic_prefix", "qos", "client_id", "keepalive", "username", "password", "tls"});
  r.read(node, "host", "outputs.mqtt.host", m.host);
  r.read(node, "port", "outputs.mqtt.port", m.port);
  r.read(node, "topic_prefix", "outputs.mqtt.topic_prefix", m.topic_prefix);
  r.read(node, "qos", "outputs.mqtt.qos", m.qos);
  r.read(node, "client_id", "outputs.mqtt.client_id", m.client_id);
  r.read(node, "keepalive", "outputs.mqtt.keepalive", m.keepalive_s);
  read_mqtt_security(r, node, m);
}

std::vector<std::string> read_class_list(const Reader& r, const YAML::Node& node, const std::string& key) {
  std::vector<std::string> out;
  if (!node.IsDefined() || node.IsNull()) return out;
  if (!node.IsSequence()) r.fail(node, key, "expected a list of class names or indices");
  for (const auto& c : node) {
    if (!c.IsScalar()) r.fail(c, key, "expected a class name or index");
    out.push_back(c.Scalar());
  }
  return out;
}

void read_alarms(const Reader& r, const YAML::Node& node, std::vector<ModbusAlarm>& alarms) {
  if (!node.IsDefined() || node.IsNull()) return;
  if (!node.IsSequence()) r.fail(node, "outputs.modbus.alarms", "expected a list of alarms");
  for (std::size_t i = 0; i < node.size(); ++i) {
    const std::string key = fmt::format("outputs.modbus.alarms[{}]", i);
    const YAML::Node a = node[i];
    r.only_keys(a, key, {"name", "camera", "zone", "classes", "min", "bit", "on_after", "off_after"});
    ModbusAlarm alarm;
    if (!r.read(a, "name", key + ".name", alarm.name)) r.fail(a, key + ".name", "missing");
    if (!r.read(a, "camera", key + ".camera", alarm.camera)) r.fail(a, key + ".camera", "missing: a camera's name");
    if (!r.read(a, "bit", key + ".bit", alarm.bit)) r.fail(a, key + ".bit", "missing: the discrete input's address");
    r.read(a, "zone", key + ".zone", alarm.zone);
    alarm.classes = read_class_list(r, a["classes"], key + ".classes");
    r.read(a, "min", key + ".min", alarm.min);
    r.read(a, "on_after", key + ".on_after", alarm.on_after_s);
    r.read(a, "off_after", key + ".off_after", alarm.off_after_s);
    alarms.push_back(std::move(alarm));
  }
}

void read_outputs(const Reader& r, const YAML::Node& node, OutputConfig& o) {
  r.only_keys(node, "outputs", {"jsonl", "events", "stats_interval", "mqtt", "snapshots", "modbus"});
  if (const YAML::Node mb = node["modbus"]; mb.IsDefined()) {
    auto& m = o.modbus.emplace();
    if (!mb.IsNull()) {
      r.only_keys(mb, "outputs.modbus", {"bind", "port", "unit_id", "max_clients", "classes", "alarms"});
      read_alarms(r, mb["alarms"], m.alarms);
      r.read(mb, "bind", "outputs.modbus.bind", m.bind);
      r.read(mb, "port", "outputs.modbus.port", m.port);
      r.read(mb, "unit_id", "outputs.modbus.unit_id", m.unit_id);
      r.read(mb, "max_clients", "outputs.modbus.max_clients", m.max_clients);
      m.classes = read_class_list(r, mb["classes"], "outputs.modbus.classes");
    }
  }
  if (const YAML::Node snap = node["snapshots"]; snap.IsDefined()) {
    r.only_keys(snap, "outputs.snapshots", {"dir", "max_mb", "max_age"});
    auto& s = o.snapshots.emplace();
    std::string dir;
    if (!r.read(snap, "dir", "outputs.snapshots.dir", dir)) r.fail(snap, "outputs.snapshots.dir", "missing: a folder");
    s.dir = r.resolve(dir);
    r.read(snap, "max_mb", "outputs.snapshots.max_mb", s.max_mb);
    r.read(snap, "max_age", "outputs.snapshots.max_age", s.max_age_s);
  }
  if (r.read(node, "events", "outputs.events", o.events) && !o.events.empty() && o.events != "-")
    o.events = r.resolve(o.events).string();
  // An empty value means no JSON Lines, as when the key is left out (resolving it would name the folder).
  if (r.read(node, "jsonl", "outputs.jsonl", o.jsonl) && !o.jsonl.empty() && o.jsonl != "-")
    o.jsonl = r.resolve(o.jsonl).string();
  r.read(node, "stats_interval", "outputs.stats_interval", o.stats_interval_s);
  if (node["mqtt"].IsDefined()) {
    o.mqtt.emplace();
    if (!node["mqtt"].IsNull()) read_mqtt(r, node["mqtt"], *o.mqtt);
  }
}

void read_roi(const Reader& r, const YAML::Node& node, const std::string& key, Roi& roi) {
  r.only_keys(node, key, {"x", "y", "width", "height"});
  for (const char* f : {"x", "y", "width", "height"}) {
    if (!node[f].IsDefined()) r.fail(node, key + "." + f, "missing");
  }
  r.read(node, "x", key + ".x", roi.x);
  r.read(node, "y", key + ".y", roi.y);
  r.read(node, "width", key + ".width", roi.width);
  r.read(node, "height", key + ".height", roi.height);
}

std::vector<double> read_numbers(const Reader& r, const YAML::Node& node, const std::string& key) {
  if (!node.IsSequence()) r.fail(node, key, "expected a list of numbers");
  std::vector<double> out;
  for (const auto& v : node) {
    try {
      out.push_back(v.as<double>());
    } catch (const YAML::Exception&) {
      r.fail(v, key, fmt::format("expected a number, got \"{}\"", v.IsScalar() ? v.Scalar() : "a collection"));
    }
    if (!std::isfinite(out.back())) r.fail(v, key, fmt::format("expected a finite number, got \"{}\"", v.Scalar()));
  }
  return out;
}

void read_undistort(const Reader& r, const YAML::Node& node, const std::string& key, Undistort& u) {
  r.only_keys(node, key, {"camera_matrix", "distortion"});
  if (!node["camera_matrix"].IsDefined())
    r.fail(node, key + ".camera_matrix", "missing: [fx, 0, cx, 0, fy, cy, 0, 0, 1]");
  const auto m = read_numbers(r, node["camera_matrix"], key + ".camera_matrix");
  if (m.size() != 9) {
    r.fail(node["camera_matrix"], key + ".camera_matrix",
           "expected 9 numbers [fx, 0, cx, 0, fy, cy, 0, 0, 1], fx, fy > 0");
  }
  std::ranges::copy(m, u.camera_matrix.begin());
  if (!node["distortion"].IsDefined()) r.fail(node, key + ".distortion", "missing: [k1, k2, p1, p2, k3]");
  u.distortion = read_numbers(r, node["distortion"], key + ".distortion");
}

void read_tracker(const Reader& r, const YAML::Node& node, const std::string& key, TrackerConfig& t) {
  if (node.IsScalar()) {  // tracker: false
    try {
      t.enabled = node.as<bool>();
    } catch (const YAML::Exception&) {
      r.note(node, key, fmt::format("expected false or a mapping of tracker options, got \"{}\"", node.Scalar()));
    }
    return;
  }
  r.only_keys(node, key,
              {"enabled", "high_score", "low_score", "new_track_score", "match_iou", "low_match_iou", "confirm_hits",
               "max_lost", "update_interval", "stationary_after", "anchor"});
  auto& o = t.options;
  r.read(node, "enabled", key + ".enabled", t.enabled);
  r.read(node, "high_score", key + ".high_score", o.high_score);
  r.read(node, "low_score", key + ".low_score", o.low_score);
  r.read(node, "new_track_score", key + ".new_track_score", o.new_track_score);
  r.read(node, "match_iou", key + ".match_iou", o.match_iou);
  r.read(node, "low_match_iou", key + ".low_match_iou", o.low_match_iou);
  r.read(node, "confirm_hits", key + ".confirm_hits", o.confirm_hits);
  r.read(node, "max_lost", key + ".max_lost", o.max_lost_s);
  r.read(node, "update_interval", key + ".update_interval", t.update_interval_s);
  r.read(node, "stationary_after", key + ".stationary_after", t.stationary_after_s);
  std::string anchor;
  if (r.read(node, "anchor", key + ".anchor", anchor)) {
    if (anchor == "bottom")
      t.anchor = Anchor::bottom;
    else if (anchor == "center" || anchor == "centre")
      t.anchor = Anchor::center;
    else
      r.note(node["anchor"], key + ".anchor", fmt::format("expected bottom or center, got \"{}\"", anchor));
  }
}

Point read_point(const Reader& r, const YAML::Node& node, const std::string& key) {
  const auto xy = read_numbers(r, node, key);
  if (xy.size() != 2) r.fail(node, key, fmt::format("expected a point [x, y], got {} numbers", xy.size()));
  return {xy[0], xy[1]};
}

ZoneConfig read_zone(const Reader& r, const YAML::Node& node, const std::string& key) {
  r.only_keys(node, key, {"name", "points", "classes", "min_dwell"});
  ZoneConfig z;
  if (!r.read(node, "name", key + ".name", z.name)) r.fail(node, key + ".name", "missing");
  const YAML::Node points = node["points"];
  if (!points.IsDefined()) r.fail(node, key + ".points", "missing: [[x, y], [x, y], [x, y], ...]");
  if (!points.IsSequence()) r.fail(points, key + ".points", "expected a list of points [[x, y], ...]");
  for (std::size_t i = 0; i < points.size(); ++i)
    z.points.push_back(read_point(r, points[i], fmt::format("{}.points[{}]", key, i)));
  z.classes = read_class_list(r, node["classes"], key + ".classes");
  r.read(node, "min_dwell", key + ".min_dwell", z.min_dwell_s);
  return z;
}

LineConfig read_line(const Reader& r, const YAML::Node& node, const std::string& key) {
  r.only_keys(node, key, {"name", "from", "to", "count", "classes"});
  LineConfig l;
  if (!r.read(node, "name", key + ".name", l.name)) r.fail(node, key + ".name", "missing");
  for (auto [field, point] : {std::pair{"from", &l.from}, {"to", &l.to}}) {
    if (!node[field].IsDefined()) r.fail(node, fmt::format("{}.{}", key, field), "missing: a point [x, y]");
    *point = read_point(r, node[field], fmt::format("{}.{}", key, field));
  }
  std::string count;
  if (r.read(node, "count", key + ".count", count)) {
    if (count == "both")
      l.directions = LineDirections::both;
    else if (count == "forward")
      l.directions = LineDirections::forward;
    else if (count == "backward")
      l.directions = LineDirections::backward;
    else
      r.note(node["count"], key + ".count", fmt::format("expected both, forward or backward, got \"{}\"", count));
  }
  l.classes = read_class_list(r, node["classes"], key + ".classes");
  return l;
}

void read_scene(const Reader& r, const YAML::Node& node, const std::string& key, CameraConfig& c) {
  std::string coordinates;
  if (r.read(node, "coordinates", key + ".coordinates", coordinates)) {
    if (coordinates == "normalized" || coordinates == "normalised")
      c.normalized = true;
    else if (coordinates != "pixels")
      r.fail(node["coordinates"], key + ".coordinates",
             fmt::format("expected pixels or normalized, got \"{}\"", coordinates));
  }
  if (node["tracker"].IsDefined()) read_tracker(r, node["tracker"], key + ".tracker", c.tracker);
  for (auto [field, is_zone] : {std::pair{"zones", true}, {"lines", false}}) {
    const YAML::Node list = node[field];
    if (!list.IsDefined() || list.IsNull()) continue;
    if (!list.IsSequence()) r.fail(list, fmt::format("{}.{}", key, field), "expected a list");
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::string item = fmt::format("{}.{}[{}]", key, field, i);
      if (is_zone)
        c.zones.push_back(read_zone(r, list[i], item));
      else
        c.lines.push_back(read_line(r, list[i], item));
    }
  }
}

void read_decoding(const Reader& r, const YAML::Node& node, const std::string& key, CameraConfig& c) {
  std::string word;
  if (r.read(node, "decoder", key + ".decoder", word)) {
    if (word == "ffmpeg")
      c.decoder = Decoder::ffmpeg;
    else if (word == "opencv")
      c.decoder = Decoder::opencv;
    else
      r.note(node["decoder"], key + ".decoder", fmt::format("expected ffmpeg or opencv, got \"{}\"", word));
  }
  if (r.read(node, "decode", key + ".decode", word)) {
    if (word == "all")
      c.decode = DecodeMode::all;
    else if (word == "keyframes")
      c.decode = DecodeMode::keyframes;
    else if (word == "auto")
      c.decode = DecodeMode::automatic;
    else
      r.note(node["decode"], key + ".decode", fmt::format("expected all, keyframes or auto, got \"{}\"", word));
  }
  r.read(node, "realtime", key + ".realtime", c.realtime);
}

CameraConfig read_camera(const Reader& r, const YAML::Node& node, const std::string& key) {
  r.only_keys(node, key,
              {"name", "source", "fps", "delivery", "slots", "loop", "frames", "roi", "undistort", "color", "decoder",
               "decode", "realtime", "tracker", "coordinates", "zones", "lines"});
  CameraConfig c;
  if (!r.read(node, "name", key + ".name", c.name)) r.fail(node, key + ".name", "missing");
  if (!r.read(node, "source", key + ".source", c.source)) {
    r.fail(node, key + ".source",
           "missing: a video file, image folder, rtsp:// or http:// URL, /dev/videoN or synthetic:");
  }
  r.read(node, "fps", key + ".fps", c.fps);
  std::string delivery;
  if (r.read(node, "delivery", key + ".delivery", delivery)) {
    if (delivery == "latest")
      c.delivery = bus::Delivery::latest;
    else if (delivery == "queue")
      c.delivery = bus::Delivery::queue;
    else
      r.note(node["delivery"], key + ".delivery", fmt::format("expected latest or queue, got \"{}\"", delivery));
  }
  r.read(node, "slots", key + ".slots", c.slots);
  r.read(node, "loop", key + ".loop", c.loop);
  r.read(node, "frames", key + ".frames", c.frames);
  if (node["roi"].IsDefined()) read_roi(r, node["roi"], key + ".roi", c.roi.emplace());
  if (node["undistort"].IsDefined()) read_undistort(r, node["undistort"], key + ".undistort", c.undistort.emplace());
  std::string color;
  if (r.read(node, "color", key + ".color", color)) {
    if (color == "bgr")
      c.color = SourceColor::bgr;
    else if (color == "rgb")
      c.color = SourceColor::rgb;
    else if (color == "gray" || color == "grey")
      c.color = SourceColor::gray;
    else
      r.note(node["color"], key + ".color", fmt::format("expected bgr, rgb or gray, got \"{}\"", color));
  }
  read_decoding(r, node, key, c);
  read_scene(r, node, key, c);
  auto parsed = parse_source(std::move(c), r.base());
  if (!parsed) r.fail(node["source"], key + ".source", parsed.error().message);
  return std::move(*parsed);
}

// http.tls and http.auth: what the service demands of its clients.
void read_http_security(const Reader& r, const YAML::Node& node, HttpConfig& h) {
  if (const YAML::Node tls = node["tls"]; tls.IsDefined()) {
    if (!tls.IsMap()) r.fail(tls, "http.tls", "expected {cert: FILE, key: FILE} (PEM)");
    r.only_keys(tls, "http.tls", {"cert", "key"});
    for (auto [key, path] : {std::pair{"cert", &h.tls_cert}, {"key", &h.tls_key}}) {
      std::string file;
      if (!r.read(tls, key, fmt::format("http.tls.{}", key), file)) {
        r.fail(tls, fmt::format("http.tls.{}", key), "missing: a PEM file");
      }
      const std::filesystem::path p(file);
      *path = p.is_absolute() ? p : (r.base() / p).lexically_normal();
    }
  }
  const YAML::Node auth = node["auth"];
  if (!auth.IsDefined()) return;  // a missing key of a const node: only IsDefined() may be asked of it
  if (auth.IsMap()) {
    r.only_keys(auth, "http.auth", {"tokens_file"});
    std::string file;
    if (!r.read(auth, "tokens_file", "http.auth.tokens_file", file)) {
      r.fail(auth, "http.auth.tokens_file", "missing: the file of token hashes (shmyolo token new)");
    }
    const std::filesystem::path p(file);
    h.tokens_file = p.is_absolute() ? p : (r.base() / p).lexically_normal();
  } else {
    std::string word;
    r.read(node, "auth", "http.auth", word);
    if (word != "none") {
      r.fail(auth, "http.auth",
             fmt::format("expected none or {{tokens_file: FILE}} (shmyolo token new), got \"{}\"", word));
    }
    h.no_auth = true;
  }
}

void read_http(const Reader& r, const YAML::Node& node, HttpConfig& h) {
  if (node.IsNull()) return;  // `http:` alone: every default
  if (!node.IsMap()) r.fail(node, "http", "expected a mapping, e.g. http: {port: 8080}");
  r.only_keys(node, "http",
              {"bind", "port", "threads", "max_connections", "queue", "max_body_mb", "max_megapixels",
               "decode_megapixels", "timeout", "read_timeout", "header_timeout", "request_timeout", "auth", "tls"});
  r.read(node, "bind", "http.bind", h.bind);
  r.read(node, "port", "http.port", h.port);
  r.read(node, "threads", "http.threads", h.threads);
  r.read(node, "max_connections", "http.max_connections", h.max_connections);
  r.read(node, "header_timeout", "http.header_timeout", h.header_timeout_s);
  r.read(node, "request_timeout", "http.request_timeout", h.request_timeout_s);
  r.read(node, "queue", "http.queue", h.queue);
  r.read(node, "max_body_mb", "http.max_body_mb", h.max_body_mb);
  r.read(node, "max_megapixels", "http.max_megapixels", h.max_megapixels);
  h.decode_megapixels = 2 * h.max_megapixels;
  r.read(node, "decode_megapixels", "http.decode_megapixels", h.decode_megapixels);
  r.read(node, "timeout", "http.timeout", h.timeout_s);
  r.read(node, "read_timeout", "http.read_timeout", h.read_timeout_s);
  read_http_security(r, node, h);
}

void read_cameras(const Reader& r, const YAML::Node& node, std::vector<CameraConfig>& cameras, bool optional) {
  if (optional && (!node.IsDefined() || node.IsNull())) return;  // an HTTP-only service
  if (!node.IsDefined() || node.IsNull()) r.fail(node, "cameras", "missing: list at least one camera (or add http:)");
  if (!node.IsSequence() || node.size() == 0) r.fail(node, "cameras", "expected a list of at least one camera");
  if (node.size() > 64) r.fail(node, "cameras", "at most 64 cameras per pipeline");
  for (std::size_t i = 0; i < node.size(); ++i)
    cameras.push_back(read_camera(r, node[i], fmt::format("cameras[{}]", i)));
}

// The node a key names (cameras[1].roi.width), or the nearest one above it
// that the file has: where a value check's message points.
YAML::Node node_at(const YAML::Node& node, std::string_view key) {
  const std::size_t end = std::min(key.find_first_of(".["), key.size());
  std::string part(key.substr(0, end));
  std::string_view rest = key.substr(end);
  if (!rest.empty()) rest.remove_prefix(1);  // the '.' or '['
  if (!part.empty() && part.back() == ']') part.pop_back();
  if (part.empty()) return rest.empty() ? node : node_at(node, rest);
  YAML::Node next;
  if (std::isdigit(static_cast<unsigned char>(part[0])) != 0) {
    if (node.IsSequence() && std::stoul(part) < node.size()) next.reset(node[std::stoul(part)]);
  } else if (node.IsMap() && node[part].IsDefined()) {
    next.reset(node[part]);
  }
  if (!next.IsDefined() || next.IsNull()) return node;
  return rest.empty() ? next : node_at(next, rest);
}

PipelineConfig read_pipeline(const Reader& r, const YAML::Node& root) {
  if (!root.IsDefined() || root.IsNull())
    throw Invalid{Mistake{.message = "the file is empty: see examples/ for a configuration"}};
  r.only_keys(root, "", {"name", "shm_dir", "model", "workers", "cameras", "outputs", "http"});
  PipelineConfig p;
  r.read(root, "name", "name", p.name);
  std::string shm_dir;
  if (r.read(root, "shm_dir", "shm_dir", shm_dir)) p.shm_dir = r.resolve(shm_dir);
  if (!root["model"].IsDefined()) r.fail(root, "model", "missing: model: {path: model.onnx}");
  read_model(r, root["model"], p.model);
  if (root["workers"].IsDefined()) read_workers(r, root["workers"], p.workers);
  if (root["http"].IsDefined()) read_http(r, root["http"], p.http.emplace());
  read_cameras(r, root["cameras"], p.cameras, p.http.has_value());
  if (root["outputs"].IsDefined()) read_outputs(r, root["outputs"], p.outputs);
  return p;
}

std::map<std::string, std::string> query_of(const std::string& uri) {
  std::map<std::string, std::string> q;
  const auto mark = uri.find('?');
  if (mark == std::string::npos) return q;
  std::stringstream in(uri.substr(mark + 1));
  std::string pair;
  while (std::getline(in, pair, '&')) {
    const auto eq = pair.find('=');
    q[pair.substr(0, eq)] = eq == std::string::npos ? "" : pair.substr(eq + 1);
  }
  return q;
}

bool to_int(const std::string& text, int& out) {
  const auto* end = text.data() + text.size();
  return std::from_chars(text.data(), end, out).ptr == end && !text.empty();
}

ConfigResult<SyntheticSource> parse_synthetic(const std::string& uri) {
  SyntheticSource s;
  for (const auto& [key, value] : query_of(uri)) {
    int v = 0;
    if (key != "objects" && key != "width" && key != "height" && key != "seed") {
      return std::unexpected(ConfigError{
          ConfigErrc::invalid,
          fmt::format("unknown parameter \"{}\" (synthetic:?width=640&height=480&seed=1&objects=1-4)", key)});
    }
    if (key == "objects") {
      const auto dash = value.find('-');
      int lo = 0;
      int hi = 0;
      if (dash == std::string::npos || !to_int(value.substr(0, dash), lo) || !to_int(value.substr(dash + 1), hi) ||
          lo < 0 || hi < lo || hi > 32) {
        return std::unexpected(
            ConfigError{ConfigErrc::invalid, fmt::format("objects={} must be MIN-MAX, 0 to 32", value)});
      }
      s.min_objects = lo;
      s.max_objects = hi;
    } else if (!to_int(value, v) || v < 0) {
      return std::unexpected(ConfigError{ConfigErrc::invalid, fmt::format("{}={} must be a whole number", key, value)});
    } else if (key == "width" || key == "height") {
      if (v < 32 || v > 8192)
        return std::unexpected(ConfigError{ConfigErrc::invalid, fmt::format("{} must be 32 to 8192", key)});
      (key == "width" ? s.width : s.height) = v;
    } else {
      s.seed = static_cast<std::uint64_t>(v);
    }
  }
  return s;
}

bool starts_with(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}

bool secret_name(std::string name) {
  std::ranges::transform(name, name.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return std::ranges::any_of(std::array<std::string_view, 6>{"pass", "pwd", "token", "secret", "key", "auth"},
                             [&](std::string_view s) { return name.find(s) != std::string::npos; }) ||
         name == "sig" || name.find("signature") != std::string::npos;
}

// A secret file's text: at most 64 KiB, one trailing newline dropped.
ConfigResult<std::string> read_secret_file(const std::string& path) {
  constexpr std::streamsize kMaxSecret = std::streamsize{64} * 1024;
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return std::unexpected(
        ConfigError{ConfigErrc::secret_missing, fmt::format("${{file:{}}}: cannot read it: check the path", path)});
  std::string text(static_cast<std::size_t>(kMaxSecret) + 1, '\0');
  in.read(text.data(), kMaxSecret + 1);
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (std::cmp_greater(text.size(), kMaxSecret)) {
    return std::unexpected(
        ConfigError{ConfigErrc::invalid, fmt::format("${{file:{}}}: larger than 64 KiB, not a secret", path)});
  }
  if (text.ends_with('\n')) text.pop_back();
  if (text.ends_with('\r')) text.pop_back();
  return text;
}

}  // namespace

std::string one_line(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto byte = static_cast<unsigned char>(ch);
    if (ch == '\n')
      out += "\\n";
    else if (ch == '\r')
      out += "\\r";
    else if (ch == '\t')
      out += "\\t";
    else if (byte < 0x20 || byte == 0x7f)
      out += fmt::format("\\x{:02x}", byte);
    else
      out += ch;
  }
  return out;
}

std::string mask_credentials(std::string_view url) {
  const auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  std::string out(url.substr(0, scheme + 3));
  const std::string_view rest = url.substr(scheme + 3);
  const auto authority_end = std::min(rest.find_first_of("/?#"), rest.size());
  std::string_view authority = rest.substr(0, authority_end);
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view user_info = authority.substr(0, at);
    const auto colon = user_info.find(':');
    out += colon == std::string_view::npos ? "***" : std::string(user_info.substr(0, colon)) + ":***";
    authority = authority.substr(at);
  }
  out += authority;
  std::string_view tail = rest.substr(authority_end);
  const auto query = tail.find('?');
  out += tail.substr(0, query == std::string_view::npos ? tail.size() : query + 1);
  if (query == std::string_view::npos) return out;
  tail = tail.substr(query + 1);
  const auto fragment = std::min(tail.find('#'), tail.size());
  const std::string_view params = tail.substr(0, fragment);
  for (std::size_t pos = 0;;) {
    const auto amp = params.find('&', pos);
    const std::string_view param = params.substr(pos, amp == std::string_view::npos ? amp : amp - pos);
    const auto eq = param.find('=');
    const bool secret = eq != std::string_view::npos && secret_name(std::string(param.substr(0, eq)));
    out += secret ? std::string(param.substr(0, eq + 1)) + "***" : std::string(param);
    if (amp == std::string_view::npos) break;
    out += '&';
    pos = amp + 1;
  }
  out += tail.substr(fragment);
  return out;
}

ConfigResult<std::string> expand_references(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$' || i + 1 >= text.size() || (text[i + 1] != '$' && text[i + 1] != '{')) {
      out += text[i];
      continue;
    }
    if (text[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    const auto close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      return std::unexpected(ConfigError{ConfigErrc::invalid, "\"${\" without its \"}\" (write $$ for a dollar sign)"});
    }
    const std::string name(text.substr(i + 2, close - i - 2));
    if (name.starts_with("file:")) {
      auto secret = read_secret_file(name.substr(5));
      if (!secret) return std::unexpected(secret.error());
      out += *secret;
    } else {
      const char* value = name.empty() ? nullptr : std::getenv(name.c_str());
      if (value == nullptr) {
        return std::unexpected(ConfigError{
            ConfigErrc::secret_missing,
            fmt::format("${{{}}} is not set in the environment: export it, or name a file with ${{file:PATH}}", name)});
      }
      out += value;
    }
    i = close;
  }
  return out;
}

Decoder decoder_of(const CameraConfig& c) {
  if (c.decoder) return *c.decoder;
  return c.kind == SourceKind::video_file || c.kind == SourceKind::stream ? Decoder::ffmpeg : Decoder::opencv;
}

DecodeMode decode_of(const CameraConfig& c) {
  if (c.decode) return *c.decode;
  return c.delivery == bus::Delivery::latest && c.kind != SourceKind::device && decoder_of(c) == Decoder::ffmpeg
             ? DecodeMode::automatic
             : DecodeMode::all;
}

ConfigResult<CameraConfig> parse_source(CameraConfig c, const std::filesystem::path& base) {
  auto expanded = expand_references(c.source);
  if (!expanded) return std::unexpected(expanded.error());
  const std::string& s = *expanded;
  if (s == "external") {
    c.kind = SourceKind::external;
    c.shown = s;
  } else if (starts_with(s, "synthetic:")) {
    auto synthetic = parse_synthetic(s);
    if (!synthetic) return std::unexpected(synthetic.error());
    c.kind = SourceKind::synthetic;
    c.synthetic = *synthetic;
    c.shown = s;
  } else if (starts_with(s, "rtsp://") || starts_with(s, "rtsps://") || starts_with(s, "http://") ||
             starts_with(s, "https://")) {
    c.kind = SourceKind::stream;
    c.location = s;
    c.shown = mask_credentials(s);
  } else if (starts_with(s, "/dev/video") || starts_with(s, "v4l2:")) {
    c.kind = SourceKind::device;
    c.location = starts_with(s, "v4l2:") ? "/dev/video" + s.substr(5) : s;
    c.shown = c.location;
  } else {
    const std::string path = starts_with(s, "file://") ? s.substr(7) : s;
    if (path.empty()) return std::unexpected(ConfigError{ConfigErrc::invalid, "empty source"});
    const std::filesystem::path p(path);
    c.location = (p.is_absolute() ? p : (base / p).lexically_normal()).string();
    // A path that does not exist yet is taken for a file: the camera retries
    // until it appears (a mount that comes late), reporting each attempt.
    std::error_code ec;  // a name too long for the file system is a file that never appears
    c.kind = std::filesystem::is_directory(c.location, ec) || path.ends_with('/') ? SourceKind::image_folder
                                                                                  : SourceKind::video_file;
    // By name only: where the files live on this host is not for API answers.
    std::filesystem::path shown(c.location);
    if (shown.filename().empty()) shown = shown.parent_path();  // "frames/"
    c.shown = shown.filename().string();
  }
  return c;
}

ConfigResult<PipelineConfig> parse(const std::string& text, const std::string& origin,
                                   const std::filesystem::path& base) {
  const Reader reader(origin, base);
  try {
    const YAML::Node root = YAML::Load(text);
    PipelineConfig p = read_pipeline(reader, root);
    // The value rules run on what was read, so one run also names values
    // out of range beside the mistakes the reader went past.
    for (const auto& v : detail::violations(p)) {
      if (!reader.noted(v.key)) reader.note(node_at(root, v.key), v.key, v.what);
    }
    if (reader.clean()) return p;
    return std::unexpected(ConfigError{ConfigErrc::invalid, reader.report(std::nullopt)});
  } catch (const Invalid& e) {
    return std::unexpected(ConfigError{ConfigErrc::invalid, reader.report(e.mistake)});
  } catch (const YAML::Exception& e) {
    return std::unexpected(
        ConfigError{ConfigErrc::syntax, fmt::format("{}:{}: not valid YAML: {}", origin, e.mark.line + 1, e.msg)});
  }
}

ConfigResult<PipelineConfig> load(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) {
    return std::unexpected(
        ConfigError{ConfigErrc::unreadable, fmt::format("cannot read {}: check the path", file.string())});
  }
  std::stringstream text;
  text << in.rdbuf();
  auto p = parse(text.str(), file.string(), std::filesystem::absolute(file).parent_path());
  if (p) p->file = file;
  return p;
}

}  // namespace shmyolo::config
