#include <shmyolo/track/scene.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace shmyolo::track {
namespace {

constexpr std::uint64_t kNever = std::numeric_limits<std::uint64_t>::max();

bool applies(const std::vector<int>& classes, int class_id) {
  return classes.empty() || std::ranges::find(classes, class_id) != classes.end();
}

std::uint64_t to_ns(double seconds) {
  return static_cast<std::uint64_t>(seconds * 1e9);
}

}  // namespace

const char* to_string(EventType type) {
  switch (type) {
    case EventType::start: return "new";
    case EventType::update: return "update";
    case EventType::end: return "end";
    case EventType::enter: return "enter";
    case EventType::leave: return "leave";
    case EventType::cross: return "cross";
  }
  return "event";
}

Scene::Scene(const SceneOptions& options, std::vector<Zone> zones, std::vector<Line> lines)
    : options_(options), zones_(std::move(zones)), lines_(std::move(lines)), counts_(lines_.size()) {}

Point anchor_of(const detect::Box& box, bool bottom) {
  return {(box.x1 + box.x2) / 2.0, bottom ? box.y2 : (box.y1 + box.y2) / 2.0};
}

int cross(LineWatch& watch, const Line& line, Point anchor, double box_height) {
  const double length = std::hypot(line.to.x - line.from.x, line.to.y - line.from.y);
  const double distance = side(line.from, line.to, anchor) / length;  // signed, in pixels
  if (std::abs(distance) <= kSideMargin * box_height) return 0;
  const int now = distance > 0 ? 1 : -1;
  const LineWatch was = watch;
  watch = {now, anchor};
  if (was.side == 0 || was.side == now || !segments_meet(was.at, anchor, line.from, line.to)) return 0;
  return was.side < 0 ? 1 : -1;
}

SceneEvent Scene::event(EventType type, const Track& t, const Presence& p, std::uint64_t ns) const {
  SceneEvent e;
  e.type = type;
  e.track = t;
  e.stationary = p.stationary;
  e.at_ns = ns;
  for (std::size_t z = 0; z < zones_.size(); ++z) {
    if (p.in[z]) e.zones.push_back(z);
    if (p.entered[z]) e.entered.push_back(z);
  }
  return e;
}

void Scene::observe(const Tracker& tracker, std::uint64_t ns, std::vector<SceneEvent>& out) {
  for (const Track& t : tracker.tracks()) {
    if (!t.confirmed) continue;
    auto [it, fresh] = present_.try_emplace(t.id);
    Presence& p = it->second;
    if (fresh) {
      p.class_id = t.class_id;
      p.in.assign(zones_.size(), false);
      p.inside_since.assign(zones_.size(), kNever);
      p.entered.assign(zones_.size(), false);
      p.lines.assign(lines_.size(), LineWatch{});
      p.still_at = anchor_of(t.box, options_.bottom_anchor);
      p.still_since = ns;
      p.last_event_ns = ns;
      out.push_back(event(EventType::start, t, p, ns));
    }
    if (!t.seen) continue;  // lost for now: where it was stays as it was
    const std::size_t before = out.size();
    follow_zones(t, p, ns, out);
    follow_lines(t, p, ns, out);
    const bool changed = follow_stillness(t, p, ns) || out.size() != before;
    const bool due = options_.update_interval_s > 0 && ns - p.last_event_ns >= to_ns(options_.update_interval_s);
    if (!fresh && (changed || due)) {
      out.push_back(event(EventType::update, t, p, ns));
      p.last_event_ns = ns;
    }
  }
  for (const Track& t : tracker.ended()) finish(t, "lost", ns, out);
}

void Scene::follow_zones(const Track& t, Presence& p, std::uint64_t ns, std::vector<SceneEvent>& out) const {
  const Point a = anchor_of(t.box, options_.bottom_anchor);
  for (std::size_t z = 0; z < zones_.size(); ++z) {
    if (!applies(zones_[z].classes, t.class_id)) continue;
    if (!inside(zones_[z].points, a)) {
      p.inside_since[z] = kNever;
      if (!p.in[z]) continue;
      p.in[z] = false;
      out.push_back(event(EventType::leave, t, p, ns));
      out.back().place = z;
      continue;
    }
    if (p.in[z]) continue;
    if (p.inside_since[z] == kNever) p.inside_since[z] = ns;
    if (ns - p.inside_since[z] < to_ns(zones_[z].min_dwell_s)) continue;
    p.in[z] = true;
    p.entered[z] = true;
    out.push_back(event(EventType::enter, t, p, ns));
    out.back().place = z;
  }
}

void Scene::follow_lines(const Track& t, Presence& p, std::uint64_t ns, std::vector<SceneEvent>& out) {
  const Point a = anchor_of(t.box, options_.bottom_anchor);
  for (std::size_t l = 0; l < lines_.size(); ++l) {
    const Line& line = lines_[l];
    if (!applies(line.classes, t.class_id)) continue;
    const int crossed = cross(p.lines[l], line, a, t.box.height());
    if (crossed == 0) continue;
    const bool forward = crossed > 0;
    if (!(forward ? line.count_forward : line.count_backward)) continue;
    LineCount& c = counts_[l];
    ++(forward ? c.forward : c.backward);
    ++(forward ? c.forward_by_class : c.backward_by_class)[t.class_id];
    out.push_back(event(EventType::cross, t, p, ns));
    out.back().place = l;
    out.back().forward = forward;
  }
}

bool Scene::follow_stillness(const Track& t, Presence& p, std::uint64_t ns) const {
  const Point a = anchor_of(t.box, options_.bottom_anchor);
  const double size = std::max(t.box.width(), t.box.height());
  if (std::hypot(a.x - p.still_at.x, a.y - p.still_at.y) > kStillShare * size) {
    p.still_at = a;
    p.still_since = ns;
  }
  const bool still = ns - p.still_since >= to_ns(options_.stationary_after_s);
  if (still == p.stationary) return false;
  p.stationary = still;
  return true;
}

void Scene::finish(const Track& t, const char* reason, std::uint64_t ns, std::vector<SceneEvent>& out) {
  const auto it = present_.find(t.id);
  if (it == present_.end()) return;
  Presence& p = it->second;
  for (std::size_t z = 0; z < zones_.size(); ++z) {
    if (!p.in[z]) continue;
    p.in[z] = false;
    out.push_back(event(EventType::leave, t, p, ns));
    out.back().place = z;
  }
  out.push_back(event(EventType::end, t, p, ns));
  out.back().reason = reason;
  present_.erase(it);
}

void Scene::end_all(Tracker& tracker, std::uint64_t ns, std::vector<SceneEvent>& out) {
  for (const Track& t : tracker.end_all()) finish(t, "shutdown", ns, out);
}

std::map<int, int> Scene::occupancy(std::size_t zone) const {
  std::map<int, int> out;
  for (const auto& [id, p] : present_) {
    if (zone >= zones_.size() || p.in[zone]) ++out[p.class_id];
  }
  return out;
}

std::vector<std::size_t> Scene::zones_of(std::uint64_t track_id) const {
  std::vector<std::size_t> out;
  const auto it = present_.find(track_id);
  if (it == present_.end()) return out;
  for (std::size_t z = 0; z < zones_.size(); ++z) {
    if (it->second.in[z]) out.push_back(z);
  }
  return out;
}

bool Scene::stationary(std::uint64_t track_id) const {
  const auto it = present_.find(track_id);
  return it != present_.end() && it->second.stationary;
}

}  // namespace shmyolo::track
