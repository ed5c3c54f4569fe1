#include <shmyolo/stats/tracking_score.hpp>

#include <algorithm>

#include <shmyolo/track/assignment.hpp>

namespace shmyolo::stats {
namespace {

constexpr float kMatchIou = 0.5F;  // CLEAR MOT's and IDF1's usual threshold

detect::Box box_of(const ingest::GroundTruth& g) {
  return {g.x1, g.y1, g.x2, g.y2};
}

}  // namespace

double TrackingTally::mota() const {
  if (objects == 0) return 1.0;
  return 1.0 - static_cast<double>(misses + false_boxes + id_switches) / static_cast<double>(objects);
}

double TrackingTally::idf1() const {
  if (objects + boxes == 0) return 1.0;
  return 2.0 * static_cast<double>(id_true_positives) / static_cast<double>(objects + boxes);
}

TrackingTally& TrackingTally::operator+=(const TrackingTally& other) {
  objects += other.objects;
  boxes += other.boxes;
  misses += other.misses;
  false_boxes += other.false_boxes;
  id_switches += other.id_switches;
  id_true_positives += other.id_true_positives;
  return *this;
}

void TrackingScore::frame(std::span<const ingest::GroundTruth> truth, std::span<const detect::Detection> boxes,
                          std::span<const std::uint64_t> ids) {
  std::vector<const ingest::GroundTruth*> objects;
  std::vector<const ingest::GroundTruth*> hidden;
  for (const auto& g : truth) (g.visible >= ingest::kMinLabelledVisibility ? objects : hidden).push_back(&g);
  std::vector<std::size_t> tracked;  // boxes with a track id
  for (std::size_t i = 0; i < boxes.size() && i < ids.size(); ++i) {
    if (ids[i] != 0) tracked.push_back(i);
  }
  // Every overlapping pair counts towards IDF1's global pairing.
  for (const auto* g : objects) {
    for (const std::size_t b : tracked) {
      if (detect::iou(box_of(*g), boxes[b].box) >= kMatchIou) ++overlaps_[{g->id, ids[b]}];
    }
  }
  // CLEAR MOT: last frame's pairs that still overlap are kept; the rest are
  // matched at least cost (1 - IoU).
  std::vector<float> cost(objects.size() * tracked.size(), track::kNoMatch);
  for (std::size_t o = 0; o < objects.size(); ++o) {
    const auto last = last_track_.find(objects[o]->id);
    for (std::size_t t = 0; t < tracked.size(); ++t) {
      const float overlap = detect::iou(box_of(*objects[o]), boxes[tracked[t]].box);
      if (overlap < kMatchIou) continue;
      const bool kept = last != last_track_.end() && last->second == ids[tracked[t]];
      cost[o * tracked.size() + t] = kept ? -1.0F : 1 - overlap;  // a kept pair beats any new one
    }
  }
  const auto pairs = track::assign(cost, objects.size(), tracked.size(), 1 - kMatchIou + 1e-6F);
  std::vector<bool> box_matched(tracked.size(), false);
  for (const auto& [o, t] : pairs) {
    box_matched[t] = true;
    const auto [it, fresh] = last_track_.try_emplace(objects[o]->id, ids[tracked[t]]);
    if (!fresh && it->second != ids[tracked[t]]) {
      ++counts_.id_switches;
      it->second = ids[tracked[t]];
    }
  }
  ++frames_;
  counts_.objects += objects.size();
  counts_.misses += objects.size() - pairs.size();
  for (std::size_t t = 0; t < tracked.size(); ++t) {
    if (box_matched[t]) {
      ++counts_.boxes;
      continue;
    }
    const bool on_hidden = std::ranges::any_of(
        hidden, [&](const auto* g) { return detect::iou(box_of(*g), boxes[tracked[t]].box) >= kMatchIou; });
    if (on_hidden) continue;  // neither right nor wrong
    ++counts_.boxes;
    ++counts_.false_boxes;
  }
}

TrackingTally TrackingScore::tally() const {
  TrackingTally t = counts_;
  // IDTP: the pairing of objects with tracks over the whole run that
  // overlaps in the most frames (the Hungarian method on negated counts).
  std::vector<int> objects;
  std::vector<std::uint64_t> tracks;
  for (const auto& [pair, n] : overlaps_) {
    if (std::ranges::find(objects, pair.first) == objects.end()) objects.push_back(pair.first);
    if (std::ranges::find(tracks, pair.second) == tracks.end()) tracks.push_back(pair.second);
  }
  std::vector<float> cost(objects.size() * tracks.size(), track::kNoMatch);
  for (const auto& [pair, n] : overlaps_) {
    const auto o = static_cast<std::size_t>(std::ranges::find(objects, pair.first) - objects.begin());
    const auto k = static_cast<std::size_t>(std::ranges::find(tracks, pair.second) - tracks.begin());
    cost[o * tracks.size() + k] = -static_cast<float>(n);
  }
  t.id_true_positives = 0;
  for (const auto& [o, k] : track::assign(cost, objects.size(), tracks.size(), 0.0F))
    t.id_true_positives += overlaps_.at({objects[o], tracks[k]});
  return t;
}

TrueCrossings::TrueCrossings(std::vector<track::Line> lines, bool bottom_anchor)
    : lines_(std::move(lines)), bottom_anchor_(bottom_anchor) {}

void TrueCrossings::frame(std::span<const ingest::GroundTruth> truth) {
  for (const auto& g : truth) {
    const detect::Box box = box_of(g);
    for (std::size_t l = 0; l < lines_.size(); ++l) {
      const track::Line& line = lines_[l];
      if (!line.classes.empty() && std::ranges::find(line.classes, g.class_id) == line.classes.end()) continue;
      const int crossed = track::cross(watches_[{g.id, l}], line, track::anchor_of(box, bottom_anchor_), box.height());
      if (crossed > 0 ? line.count_forward : crossed < 0 && line.count_backward) ++count_;
    }
  }
}

}  // namespace shmyolo::stats
