// Tracking for one camera inside the aggregator: the tracker, the scene of
// zones and lines, and what they give the outputs: each detection's track
// id, events as JSON, the active tracks, and the counts that MQTT retains.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <shmyolo/config/pipeline_config.hpp>
#include <shmyolo/pipeline/result.hpp>
#include <shmyolo/track/scene.hpp>
#include <shmyolo/track/tracker.hpp>

namespace shmyolo::pipeline {

// A track's best frame so far, to be drawn into its snapshot.
struct SnapshotWanted {
  std::uint64_t track_id = 0;
  std::string event_id;
  std::uint64_t frame_seq = 0;  // the best frame (it may still be in the camera ring)
  detect::Box box;              // source pixels
  int class_id = 0;
  std::string label;
};

struct TrackedFrame {
  bool tracked = false;                   // false: tracking is off, or the frame came late
  bool late = false;                      // it came after a newer frame had been tracked
  std::vector<std::uint64_t> ids;         // per detection: its confirmed track, 0 for none
  std::vector<track::SceneEvent> events;  // new, update, end, enter, leave, cross (event_json)
  std::vector<SnapshotWanted> snapshots;  // tracks whose best frame improved (at most one a second each)
};

class CameraTracking {
 public:
  // `names`: the model's class names (zones and lines name classes by them).
  CameraTracking(const config::CameraConfig& camera, const std::vector<std::string>& names);

  // A frame's result, in frame order. A frame older than one already
  // tracked (it came late) is not tracked: no ids, no events.
  // `detections` are the record's, as the detector's type.
  TrackedFrame update(const ResultRecord& r, std::span<const detect::Detection> detections);
  // The pipeline stops: every open track ends (reason shutdown).
  std::vector<track::SceneEvent> end_all();
  // An event as JSON: with its track's event id, and its snapshot's path once one is saved.
  [[nodiscard]] nlohmann::json event_json(const track::SceneEvent& e) const;
  // The aggregator saved a track's snapshot.
  void snapshot_saved(std::uint64_t track_id) { snapshots_[track_id].saved = true; }

  // Active reported tracks, with their zones.
  [[nodiscard]] nlohmann::json tracks() const;
  [[nodiscard]] std::size_t active_tracks() const;
  // Retained counts by topic under <prefix>/<camera>/: occupancy
  // "<zone or all>/<class or all>" and line counts "<line>/crossings".
  [[nodiscard]] const std::map<std::string, std::string>& counts() const { return counts_; }
  [[nodiscard]] const track::Scene* scene() const { return scene_.get(); }

 private:
  void build_scene(const ResultRecord& r);
  void count();
  [[nodiscard]] std::string event_id(const track::Track& t) const;
  void want_snapshots(std::uint64_t capture_ns, TrackedFrame& out);
  [[nodiscard]] std::uint64_t to_unix(std::uint64_t mono_ns) const;

  const config::CameraConfig& camera_;
  const std::vector<std::string>& names_;
  track::Tracker tracker_;
  std::unique_ptr<track::Scene> scene_;  // built at the first frame (normalised zones need its size)
  std::optional<std::uint64_t> last_seq_;
  std::int64_t unix_minus_mono_ = 0;  // from the newest frame: event times in Unix time
  std::uint64_t last_mono_ns_ = 0;
  struct Snapshot {              // of one track
    std::uint64_t best_ns = 0;   // the best frame's capture time when last asked for
    std::uint64_t asked_ns = 0;  // when last asked for
    bool saved = false;
  };
  std::map<std::uint64_t, Snapshot> snapshots_;                 // by track id
  std::vector<std::uint64_t> forget_;                           // tracks ended in the last frame
  std::deque<std::pair<std::uint64_t, std::uint64_t>> recent_;  // capture time -> seq of the last frames
  // Every count ever given stays (a class that leaves a zone reads 0, not its last count).
  std::map<std::string, std::string> counts_;
};

}  // namespace shmyolo::pipeline
