// Multi-object tracking for one camera, ByteTrack's way: every box a
// detector gives, high score or low, is a chance to keep a track alive.
//
//   Tracker tracker({});                       // one per camera
//   auto ids = tracker.update(capture_ns, detections);
//   // ids[i]: the track detection i belongs to, 0 while the track is new
//   for (const Track& t : tracker.ended()) ...  // tracks that ended this update
//
// Each track has a constant-velocity Kalman filter over its box (centre,
// width, height). Time is the frames' capture time, not a frame count: a
// camera in latest mode skips frames under load, and a track predicted over
// a gap of 300 ms moves 300 ms worth. Per update:
//   1. every track is predicted to the frame's capture time;
//   2. high-score detections are matched to the tracks by IoU (confirmed and
//      lost tracks alike, so a track comes back after an occlusion);
//   3. low-score detections are matched to the tracks still unmatched that
//      were seen last frame (an object half hidden scores low);
//   4. new tracks await a second match before they are confirmed;
//   5. unmatched high-score detections start new tracks; tracks unseen for
//      max_lost_s end.
// Matches pair only boxes of the same class, and each assignment is optimal
// (Hungarian, per cluster of overlapping boxes).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <shmyolo/detect/types.hpp>
#include <shmyolo/track/kalman.hpp>

namespace shmyolo::track {

struct TrackerOptions {
  float high_score = 0.5F;       // detections at least this sure are matched first
  float low_score = 0.1F;        // ... those between low and high only keep tracks alive
  float new_track_score = 0.6F;  // an unmatched detection at least this sure starts a track
  float match_iou = 0.2F;        // least IoU for a high-score match (ByteTrack's 0.8 cost)
  float low_match_iou = 0.5F;    // least IoU for a low-score match
  int confirm_hits = 2;          // matches before a new track is reported
  // A track unseen this long ends. ByteTrack's 1 s (30 frames) split objects
  // hidden for a second or two into new tracks on the synthetic cameras
  // (IDF1 0.86 against 0.96 at 3 s, docs/tracking.md); Frigate waits 5 s.
  double max_lost_s = 3.0;
};

struct Track {
  std::uint64_t id = 0;  // from 1, per tracker, never reused
  int class_id = 0;
  detect::Box box;            // the filtered box at the last update
  detect::Box detected;       // the last detection matched to it
  float score = 0;            // that detection's score
  float best_score = 0;       // the best score of any matched detection
  detect::Box best_box;       // ... and its box
  std::uint64_t best_ns = 0;  // ... and when it was captured
  float velocity_x = 0;       // centre, pixels per second
  float velocity_y = 0;
  std::uint64_t first_ns = 0;  // capture time of the first and the last match
  std::uint64_t last_ns = 0;
  int hits = 0;  // detections matched
  bool confirmed = false;
  bool seen = false;  // matched in the last update
};

class Tracker {
 public:
  explicit Tracker(const TrackerOptions& options);

  // One frame's detections captured at `capture_ns` (any clock, in order).
  // Returns, per detection, the id of its confirmed track, or 0.
  std::vector<std::uint64_t> update(std::uint64_t capture_ns, std::span<const detect::Detection> detections);

  // Live tracks, new ones included (those with confirmed == false).
  [[nodiscard]] const std::vector<Track>& tracks() const { return tracks_; }
  // Confirmed tracks that ended in the last update (unseen for max_lost_s).
  [[nodiscard]] const std::vector<Track>& ended() const { return ended_; }
  // Ends every live confirmed track now (the pipeline stops); returns them.
  std::vector<Track> end_all();

  [[nodiscard]] const TrackerOptions& options() const { return options_; }

 private:
  void predict(std::uint64_t capture_ns);
  void match(std::span<const detect::Detection> detections, std::span<const std::size_t> which,
             std::vector<std::size_t>& tracks, float min_iou, std::vector<std::uint64_t>& ids, std::vector<bool>& used,
             std::uint64_t capture_ns);
  void start(const detect::Detection& d, std::uint64_t capture_ns);
  void retire(std::uint64_t capture_ns);

  TrackerOptions options_;
  std::vector<Track> tracks_;
  std::vector<BoxFilter> motion_;  // beside tracks_, same order
  std::vector<Track> ended_;
  std::uint64_t next_id_ = 1;
  std::uint64_t now_ns_ = 0;
};

}  // namespace shmyolo::track
