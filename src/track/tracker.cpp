#include <shmyolo/track/tracker.hpp>

#include <algorithm>

#include <shmyolo/track/assignment.hpp>

namespace shmyolo::track {
namespace {

// ByteTrack's third stage (new tracks against the detections left) asks for
// an IoU of 0.3 (its 0.7 cost), stricter than a confirmed track's match.
constexpr float kNewTrackMatchIou = 0.3F;

}  // namespace

Tracker::Tracker(const TrackerOptions& options) : options_(options) {}

void Tracker::predict(std::uint64_t capture_ns) {
  for (std::size_t i = 0; i < tracks_.size(); ++i) {
    motion_[i].predict(capture_ns);
    tracks_[i].box = motion_[i].box();
  }
}

void Tracker::match(std::span<const detect::Detection> detections, std::span<const std::size_t> which,
                    std::vector<std::size_t>& tracks, float min_iou, std::vector<std::uint64_t>& ids,
                    std::vector<bool>& used, std::uint64_t capture_ns) {
  std::vector<std::size_t> columns;
  for (const std::size_t d : which) {
    if (!used[d]) columns.push_back(d);
  }
  if (tracks.empty() || columns.empty()) return;
  std::vector<float> cost(tracks.size() * columns.size(), kNoMatch);
  for (std::size_t i = 0; i < tracks.size(); ++i) {
    const Track& t = tracks_[tracks[i]];
    for (std::size_t j = 0; j < columns.size(); ++j) {
      const detect::Detection& d = detections[columns[j]];
      if (d.class_id != t.class_id) continue;
      const float overlap = detect::iou(t.box, d.box);
      if (overlap >= min_iou) cost[i * columns.size() + j] = 1 - overlap;
    }
  }
  std::vector<bool> matched(tracks.size(), false);
  for (const auto& [i, j] : assign(cost, tracks.size(), columns.size(), 1 - min_iou + 1e-6F)) {
    const std::size_t k = tracks[i];
    const detect::Detection& d = detections[columns[j]];
    Track& t = tracks_[k];
    motion_[k].correct(d.box);
    t.box = motion_[k].box();
    t.velocity_x = motion_[k].velocity_x();
    t.velocity_y = motion_[k].velocity_y();
    t.detected = d.box;
    t.score = d.score;
    if (d.score > t.best_score) {
      t.best_score = d.score;
      t.best_box = d.box;
      t.best_ns = capture_ns;
    }
    t.last_ns = capture_ns;
    t.seen = true;
    ++t.hits;
    t.confirmed = t.confirmed || t.hits >= options_.confirm_hits;
    ids[columns[j]] = t.confirmed ? t.id : 0;
    used[columns[j]] = true;
    matched[i] = true;
  }
  std::vector<std::size_t> left;
  for (std::size_t i = 0; i < tracks.size(); ++i) {
    if (!matched[i]) left.push_back(tracks[i]);
  }
  tracks = std::move(left);
}

void Tracker::start(const detect::Detection& d, std::uint64_t capture_ns) {
  Track t;
  t.id = next_id_++;
  t.class_id = d.class_id;
  t.box = t.detected = t.best_box = d.box;
  t.score = t.best_score = d.score;
  t.best_ns = t.first_ns = t.last_ns = capture_ns;
  t.hits = 1;
  t.confirmed = options_.confirm_hits <= 1;
  t.seen = true;
  tracks_.push_back(t);
  motion_.emplace_back(d.box, capture_ns);
}

std::vector<std::uint64_t> Tracker::update(std::uint64_t capture_ns, std::span<const detect::Detection> detections) {
  ended_.clear();
  capture_ns = std::max(capture_ns, now_ns_);  // out of order: as if at the last time
  now_ns_ = capture_ns;
  predict(capture_ns);
  std::vector<std::size_t> high;
  std::vector<std::size_t> low;
  for (std::size_t i = 0; i < detections.size(); ++i) {
    if (detections[i].score >= options_.high_score)
      high.push_back(i);
    else if (detections[i].score >= options_.low_score)
      low.push_back(i);
  }
  std::vector<std::size_t> confirmed;
  std::vector<std::size_t> tentative;
  std::vector<bool> seen_before(tracks_.size());
  for (std::size_t k = 0; k < tracks_.size(); ++k) {
    seen_before[k] = tracks_[k].seen;
    tracks_[k].seen = false;
    (tracks_[k].confirmed ? confirmed : tentative).push_back(k);
  }
  std::vector<std::uint64_t> ids(detections.size(), 0);
  std::vector<bool> used(detections.size(), false);
  // 1. Confirmed tracks, seen last time or lost, against the sure detections.
  match(detections, high, confirmed, options_.match_iou, ids, used, capture_ns);
  // 2. Those seen last time and still unmatched against the unsure ones.
  std::erase_if(confirmed, [&](std::size_t k) { return !seen_before[k]; });
  match(detections, low, confirmed, options_.low_match_iou, ids, used, capture_ns);
  // 3. New tracks against the sure detections left; a new track unmatched is dropped.
  match(detections, high, tentative, std::max(options_.match_iou, kNewTrackMatchIou), ids, used, capture_ns);
  std::vector<bool> drop(tracks_.size(), false);
  for (const std::size_t k : tentative) drop[k] = true;
  for (std::size_t k = tracks_.size(); k-- > 0;) {
    if (!drop[k]) continue;
    tracks_.erase(tracks_.begin() + static_cast<std::ptrdiff_t>(k));
    motion_.erase(motion_.begin() + static_cast<std::ptrdiff_t>(k));
  }
  // 4. Sure detections still unmatched start tracks.
  for (const std::size_t d : high) {
    if (used[d] || detections[d].score < options_.new_track_score) continue;
    start(detections[d], capture_ns);
    if (tracks_.back().confirmed) ids[d] = tracks_.back().id;
  }
  retire(capture_ns);
  return ids;
}

void Tracker::retire(std::uint64_t capture_ns) {
  const auto max_lost = static_cast<std::uint64_t>(options_.max_lost_s * 1e9);
  for (std::size_t k = tracks_.size(); k-- > 0;) {
    if (capture_ns - tracks_[k].last_ns <= max_lost) continue;
    ended_.push_back(tracks_[k]);
    tracks_.erase(tracks_.begin() + static_cast<std::ptrdiff_t>(k));
    motion_.erase(motion_.begin() + static_cast<std::ptrdiff_t>(k));
  }
  std::ranges::reverse(ended_);  // in the order they were started
}

std::vector<Track> Tracker::end_all() {
  std::vector<Track> out;
  for (const Track& t : tracks_) {
    if (t.confirmed) out.push_back(t);
  }
  tracks_.clear();
  motion_.clear();
  return out;
}

}  // namespace shmyolo::track
