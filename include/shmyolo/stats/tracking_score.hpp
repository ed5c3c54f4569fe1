// How well tracks follow objects whose identities are known (the synthetic
// camera's truth), by the two standard measures:
//   - CLEAR MOT (Bernardin and Stiefelhagen, 2008): each frame, true objects
//     and track boxes are matched at IoU >= 0.5, keeping last frame's pairs
//     where they still hold; MOTA = 1 - (misses + false boxes + id switches)
//     / true objects.
//   - IDF1 (Ristani et al., 2016): true objects and tracks are paired once
//     for the whole run, so as to maximise the frames where a pair overlaps
//     at IoU >= 0.5 (IDTP); IDF1 = 2 IDTP / (true objects + track boxes).
// Objects mostly hidden (visible < ingest::kMinLabelledVisibility) are not
// counted, and a track box on one is neither right nor wrong, as in scoring.hpp.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <utility>
#include <vector>

#include <shmyolo/detect/types.hpp>
#include <shmyolo/ingest/synthetic_camera.hpp>
#include <shmyolo/track/scene.hpp>

namespace shmyolo::stats {

struct TrackingTally {
  std::uint64_t objects = 0;      // true objects, over all frames
  std::uint64_t boxes = 0;        // track boxes (with an id), over all frames
  std::uint64_t misses = 0;       // true objects no track box matched
  std::uint64_t false_boxes = 0;  // track boxes on no true object
  std::uint64_t id_switches = 0;  // a true object matched to another track than before
  std::uint64_t id_true_positives = 0;

  // 1 when there is nothing to count.
  [[nodiscard]] double mota() const;
  [[nodiscard]] double idf1() const;
  TrackingTally& operator+=(const TrackingTally& other);
};

class TrackingScore {
 public:
  // One frame: its true objects, and the boxes tracks gave (`ids[i]` is box
  // i's track; 0: none yet, not counted).
  void frame(std::span<const ingest::GroundTruth> truth, std::span<const detect::Detection> boxes,
             std::span<const std::uint64_t> ids);
  // The tally so far, IDTP by a fresh global pairing (its cost grows with
  // the tracks seen; counts() is the rest, at no cost).
  [[nodiscard]] TrackingTally tally() const;
  [[nodiscard]] const TrackingTally& counts() const { return counts_; }
  [[nodiscard]] std::uint64_t frames() const { return frames_; }

 private:
  TrackingTally counts_;  // all but id_true_positives
  std::uint64_t frames_ = 0;
  std::map<int, std::uint64_t> last_track_;                          // true object -> its track at its last match
  std::map<std::pair<int, std::uint64_t>, std::uint64_t> overlaps_;  // frames each pair overlapped
};

// The crossings of a camera's lines by its true objects: each object's
// anchor followed with the scene's own rule (track/scene.hpp), so the count
// the tracks give can be checked exactly.
class TrueCrossings {
 public:
  TrueCrossings(std::vector<track::Line> lines, bool bottom_anchor);
  void frame(std::span<const ingest::GroundTruth> truth);
  [[nodiscard]] std::uint64_t count() const { return count_; }

 private:
  std::vector<track::Line> lines_;
  bool bottom_anchor_;
  std::map<std::pair<int, std::size_t>, track::LineWatch> watches_;  // (object, line)
  std::uint64_t count_ = 0;
};

}  // namespace shmyolo::stats
