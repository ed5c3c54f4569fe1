#include "camera_tracking.hpp"

#include <cstdio>

#include <fmt/format.h>

#include "result_json.hpp"

namespace shmyolo::pipeline {
namespace {

std::vector<int> class_ids_of(const std::vector<std::string>& names, const std::vector<std::string>& classes) {
  if (classes.empty()) return {};
  auto ids = detect::class_ids(names, classes);
  return ids ? *ids : std::vector<int>{};  // preflight has refused names the model lacks
}

nlohmann::json box_json(const detect::Box& b) {
  return {rounded(b.x1, 10), rounded(b.y1, 10), rounded(b.x2, 10), rounded(b.y2, 10)};
}

constexpr std::size_t kRecentFrames = 64;                  // frames whose seq a best detection can be found by
constexpr std::uint64_t kSnapshotEveryNs = 1'000'000'000;  // a track's snapshot is redrawn at most once a second

track::Point scaled(track::Point p, bool normalized, const ResultRecord& r) {
  if (!normalized) return p;
  return {p.x * r.source_width, p.y * r.source_height};
}

}  // namespace

CameraTracking::CameraTracking(const config::CameraConfig& camera, const std::vector<std::string>& names)
    : camera_(camera), names_(names), tracker_(camera.tracker.options) {}

void CameraTracking::build_scene(const ResultRecord& r) {
  std::vector<track::Zone> zones;
  zones.reserve(camera_.zones.size());
  for (const auto& z : camera_.zones) {
    track::Zone zone{
        .name = z.name, .points = {}, .classes = class_ids_of(names_, z.classes), .min_dwell_s = z.min_dwell_s};
    for (const auto& p : z.points) zone.points.push_back(scaled(p, camera_.normalized, r));
    zones.push_back(std::move(zone));
  }
  std::vector<track::Line> lines;
  lines.reserve(camera_.lines.size());
  for (const auto& l : camera_.lines) {
    lines.push_back({.name = l.name,
                     .from = scaled(l.from, camera_.normalized, r),
                     .to = scaled(l.to, camera_.normalized, r),
                     .count_forward = l.directions != config::LineDirections::backward,
                     .count_backward = l.directions != config::LineDirections::forward,
                     .classes = class_ids_of(names_, l.classes)});
  }
  const auto outside = [&](track::Point p) { return p.x > r.source_width || p.y > r.source_height; };
  for (const auto& z : zones) {
    if (std::ranges::any_of(z.points, outside)) {
      std::fprintf(stderr, "shmyolo: camera %s: zone %s reaches outside the %ux%u frame: check its points\n",
                   camera_.name.c_str(), z.name.c_str(), r.source_width, r.source_height);
    }
  }
  for (const auto& l : lines) {
    if (outside(l.from) || outside(l.to)) {
      std::fprintf(stderr, "shmyolo: camera %s: line %s reaches outside the %ux%u frame: check its points\n",
                   camera_.name.c_str(), l.name.c_str(), r.source_width, r.source_height);
    }
  }
  const auto& t = camera_.tracker;
  scene_ = std::make_unique<track::Scene>(track::SceneOptions{.update_interval_s = t.update_interval_s,
                                                              .stationary_after_s = t.stationary_after_s,
                                                              .bottom_anchor = t.anchor == config::Anchor::bottom},
                                          std::move(zones), std::move(lines));
}

std::uint64_t CameraTracking::to_unix(std::uint64_t mono_ns) const {
  return static_cast<std::uint64_t>(static_cast<std::int64_t>(mono_ns) + unix_minus_mono_);
}

TrackedFrame CameraTracking::update(const ResultRecord& r, std::span<const detect::Detection> detections) {
  TrackedFrame out;
  if (!camera_.tracker.enabled) return out;
  if (last_seq_ && r.frame_seq <= *last_seq_) {
    out.late = true;
    return out;
  }
  last_seq_ = r.frame_seq;
  if (!scene_) build_scene(r);
  unix_minus_mono_ = static_cast<std::int64_t>(r.capture_unix_ns) - static_cast<std::int64_t>(r.capture_mono_ns);
  last_mono_ns_ = r.capture_mono_ns;
  for (const std::uint64_t id : forget_) snapshots_.erase(id);
  forget_.clear();
  recent_.emplace_back(r.capture_mono_ns, r.frame_seq);
  if (recent_.size() > kRecentFrames) recent_.pop_front();
  out.ids = tracker_.update(r.capture_mono_ns, detections);
  out.tracked = true;
  scene_->observe(tracker_, r.capture_mono_ns, out.events);
  for (const auto& e : out.events) {
    if (e.type == track::EventType::end) forget_.push_back(e.track.id);  // after its end event is written
  }
  want_snapshots(r.capture_mono_ns, out);
  count();
  return out;
}

// A confirmed track seen now whose best detection is newer than the one its
// snapshot shows, at most once a second per track (a JPEG costs a few ms).
void CameraTracking::want_snapshots(std::uint64_t capture_ns, TrackedFrame& out) {
  for (const auto& t : tracker_.tracks()) {
    if (!t.confirmed || !t.seen) continue;
    Snapshot& s = snapshots_[t.id];
    if (t.best_ns <= s.best_ns || (s.asked_ns != 0 && capture_ns - s.asked_ns < kSnapshotEveryNs)) continue;
    const auto frame = std::ranges::find(recent_, t.best_ns, &std::pair<std::uint64_t, std::uint64_t>::first);
    if (frame == recent_.end()) continue;
    s.best_ns = t.best_ns;
    s.asked_ns = capture_ns;
    out.snapshots.push_back(
        {.track_id = t.id,
         .event_id = event_id(t),
         .frame_seq = frame->second,
         .box = t.best_box,
         .class_id = t.class_id,
         .label = fmt::format("{} #{} {:.2f}", class_name(names_, t.class_id), t.id, t.best_score)});
  }
}

std::vector<track::SceneEvent> CameraTracking::end_all() {
  std::vector<track::SceneEvent> out;
  if (!scene_) return out;
  scene_->end_all(tracker_, last_mono_ns_, out);
  count();
  return out;
}

// Unique across restarts of the aggregator (track ids start again at 1; the
// first sighting's millisecond differs), and safe in a file name and a URL.
std::string CameraTracking::event_id(const track::Track& t) const {
  return fmt::format("{}-{}-{}", camera_.name, to_unix(t.first_ns) / 1'000'000, t.id);
}

nlohmann::json CameraTracking::event_json(const track::SceneEvent& e) const {
  const track::Track& t = e.track;
  const auto zone_names = [&](const std::vector<std::size_t>& zones) {
    nlohmann::json list = nlohmann::json::array();
    for (const std::size_t z : zones) list.push_back(scene_->zones()[z].name);
    return list;
  };
  nlohmann::json j{{"type", track::to_string(e.type)},
                   {"id", event_id(t)},
                   {"camera", camera_.name},
                   {"track_id", t.id},
                   {"class_id", t.class_id},
                   {"class", class_name(names_, t.class_id)},
                   {"at_unix_ns", to_unix(e.at_ns)},
                   {"first_seen_unix_ns", to_unix(t.first_ns)},
                   {"last_seen_unix_ns", to_unix(t.last_ns)},
                   {"dwell_s", rounded(static_cast<double>(t.last_ns - t.first_ns) / 1e9, 1000)},
                   {"score", rounded(t.score, 1000)},
                   {"box", box_json(t.box)},
                   {"best_score", rounded(t.best_score, 1000)},
                   {"best_box", box_json(t.best_box)},
                   {"zones", zone_names(e.zones)},
                   {"entered_zones", zone_names(e.entered)},
                   {"stationary", e.stationary}};
  if (const auto s = snapshots_.find(t.id); s != snapshots_.end() && s->second.saved)
    j["snapshot"] = fmt::format("/v1/events/{}/snapshot.jpg", event_id(t));
  if (e.type == track::EventType::enter || e.type == track::EventType::leave) {
    j["zone"] = scene_->zones()[e.place].name;
  } else if (e.type == track::EventType::cross) {
    const auto& c = scene_->line_counts()[e.place];
    j["line"] = scene_->lines()[e.place].name;
    j["direction"] = e.forward ? "forward" : "backward";
    j["count"] = {{"forward", c.forward}, {"backward", c.backward}};
  } else if (e.type == track::EventType::end) {
    j["reason"] = e.reason;
  }
  return j;
}

std::size_t CameraTracking::active_tracks() const {
  return static_cast<std::size_t>(std::ranges::count_if(tracker_.tracks(), [](const auto& t) { return t.confirmed; }));
}

nlohmann::json CameraTracking::tracks() const {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& t : tracker_.tracks()) {
    if (!t.confirmed) continue;
    nlohmann::json zones = nlohmann::json::array();
    if (scene_) {
      for (const std::size_t z : scene_->zones_of(t.id)) zones.push_back(scene_->zones()[z].name);
    }
    list.push_back({{"track_id", t.id},
                    {"class_id", t.class_id},
                    {"class", class_name(names_, t.class_id)},
                    {"box", box_json(t.box)},
                    {"score", rounded(t.score, 1000)},
                    {"velocity", {rounded(t.velocity_x, 10), rounded(t.velocity_y, 10)}},
                    {"first_seen_unix_ns", to_unix(t.first_ns)},
                    {"last_seen_unix_ns", to_unix(t.last_ns)},
                    {"seen", t.seen},
                    {"zones", zones},
                    {"stationary", scene_ && scene_->stationary(t.id)}});
  }
  return list;
}

void CameraTracking::count() {
  for (auto& [topic, value] : counts_) value = "0";  // what is not counted below is no longer there
  const auto& zones = scene_->zones();
  for (std::size_t z = 0; z <= zones.size(); ++z) {
    const std::string zone = z < zones.size() ? zones[z].name : "all";
    int total = 0;
    for (const auto& [class_id, n] : scene_->occupancy(z)) {
      counts_[fmt::format("{}/{}", zone, class_name(names_, class_id))] = std::to_string(n);
      total += n;
    }
    counts_[zone + "/all"] = std::to_string(total);
  }
  const auto& lines = scene_->lines();
  for (std::size_t l = 0; l < lines.size(); ++l) {
    const auto& c = scene_->line_counts()[l];
    nlohmann::json by_class = nlohmann::json::object();
    for (const auto& [class_id, n] : c.forward_by_class) by_class[class_name(names_, class_id)]["forward"] = n;
    for (const auto& [class_id, n] : c.backward_by_class) by_class[class_name(names_, class_id)]["backward"] = n;
    counts_[lines[l].name + "/crossings"] =
        nlohmann::json{{"forward", c.forward}, {"backward", c.backward}, {"classes", by_class}}.dump();
  }
}

}  // namespace shmyolo::pipeline
