#include <shmyolo/stats/scoring.hpp>

#include <algorithm>
#include <numeric>
#include <vector>

namespace shmyolo::stats {

double Tally::precision() const {
  const std::uint64_t found = true_positives + false_positives;
  return found == 0 ? 1.0 : static_cast<double>(true_positives) / static_cast<double>(found);
}

double Tally::recall() const {
  const std::uint64_t real = true_positives + false_negatives;
  return real == 0 ? 1.0 : static_cast<double>(true_positives) / static_cast<double>(real);
}

Tally& Tally::operator+=(const Tally& other) {
  true_positives += other.true_positives;
  false_positives += other.false_positives;
  false_negatives += other.false_negatives;
  return *this;
}

namespace {

detect::Box box_of(const ingest::GroundTruth& g) {
  return {g.x1, g.y1, g.x2, g.y2};
}

bool labelled(const ingest::GroundTruth& g) {
  return g.visible >= ingest::kMinLabelledVisibility;
}

// The best unmatched labelled box of the detection's class, or -1.
int best_match(const detect::Detection& d, std::span<const ingest::GroundTruth> truth, const std::vector<bool>& used,
               float iou_threshold) {
  int best = -1;
  float best_iou = iou_threshold;
  for (std::size_t t = 0; t < truth.size(); ++t) {
    if (used[t] || !labelled(truth[t]) || truth[t].class_id != d.class_id) continue;
    const float overlap = detect::iou(d.box, box_of(truth[t]));
    if (overlap >= best_iou) {
      best_iou = overlap;
      best = static_cast<int>(t);
    }
  }
  return best;
}

bool matches_hidden(const detect::Detection& d, std::span<const ingest::GroundTruth> truth, float iou_threshold) {
  return std::ranges::any_of(truth, [&](const ingest::GroundTruth& g) {
    return !labelled(g) && g.class_id == d.class_id && detect::iou(d.box, box_of(g)) >= iou_threshold;
  });
}

}  // namespace

Tally score(std::span<const detect::Detection> detections, std::span<const ingest::GroundTruth> truth,
            float iou_threshold) {
  std::vector<std::size_t> order(detections.size());
  std::iota(order.begin(), order.end(), 0);
  std::ranges::sort(order, [&](std::size_t a, std::size_t b) { return detections[a].score > detections[b].score; });
  std::vector<bool> used(truth.size(), false);
  Tally tally;
  for (const std::size_t i : order) {
    const int t = best_match(detections[i], truth, used, iou_threshold);
    if (t >= 0) {
      used[static_cast<std::size_t>(t)] = true;
      ++tally.true_positives;
    } else if (!matches_hidden(detections[i], truth, iou_threshold)) {
      ++tally.false_positives;
    }
  }
  for (std::size_t t = 0; t < truth.size(); ++t) {
    if (!used[t] && labelled(truth[t])) ++tally.false_negatives;
  }
  return tally;
}

}  // namespace shmyolo::stats
