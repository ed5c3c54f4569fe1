// What tracks mean for a camera's scene: a track's life as events (new,
// update, end), zones entered and left, lines crossed, and the counts a
// control system polls (occupancy per zone and class, crossings per line).
//
//   Scene scene(options, zones, lines);
//   tracker.update(ns, detections);
//   scene.observe(tracker, ns, events);   // appends this frame's events
//
// A track's position is its anchor: the bottom centre of its filtered box
// (where a person or vehicle meets the ground), or the centre.
//   - A zone is entered when the anchor has been inside for min_dwell, and
//     left when it is outside (or the track ends).
//   - A line is crossed when the anchor passes from one side to the other
//     over the segment. A side counts only once the anchor is clearly on it,
//     more than kSideMargin of the box's height away, so a box wobbling on
//     the line counts once, not at every wobble.
//   - Every track that is reported as new ends exactly once: lost (unseen
//     for the tracker's max_lost) or at shutdown (end_all).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <shmyolo/track/geometry.hpp>
#include <shmyolo/track/tracker.hpp>

namespace shmyolo::track {

// A crossing needs the anchor this share of the box's height clear of the line.
inline constexpr double kSideMargin = 0.05;
// A track that moves less than this share of its box's size stays put.
inline constexpr double kStillShare = 0.1;

struct Zone {
  std::string name;
  std::vector<Point> points;   // pixels
  std::vector<int> classes{};  // empty: every class
  double min_dwell_s = 0;
};

struct Line {
  std::string name;
  Point from;
  Point to;
  bool count_forward = true;  // left of from->to to its right (clockwise, y down)
  bool count_backward = true;
  std::vector<int> classes{};
};

// Where one anchor stands against one line, followed frame to frame.
struct LineWatch {
  int side = 0;  // -1 left, +1 right, 0 not yet clear of the line
  Point at;      // where the anchor last stood clear
};

// Moves the watch to the anchor (of a box `box_height` tall): +1 when it has
// crossed the line forward, -1 backward, 0 when not (whatever the line counts).
[[nodiscard]] int cross(LineWatch& watch, const Line& line, Point anchor, double box_height);

// The anchor of a box: its bottom centre, or its centre.
[[nodiscard]] Point anchor_of(const detect::Box& box, bool bottom);

struct SceneOptions {
  double update_interval_s = 5;  // 0: updates only on changes
  double stationary_after_s = 10;
  bool bottom_anchor = true;
};

enum class EventType { start, update, end, enter, leave, cross };

[[nodiscard]] const char* to_string(EventType type);

struct SceneEvent {
  EventType type = EventType::start;
  Track track;                       // as it is at the event
  std::vector<std::size_t> zones;    // the zones it is in now
  std::vector<std::size_t> entered;  // every zone it has entered
  bool stationary = false;
  std::size_t place = 0;    // enter, leave: the zone; cross: the line
  bool forward = false;     // cross: the direction
  const char* reason = "";  // end: lost or shutdown
  std::uint64_t at_ns = 0;  // when it happened (the frame's capture time)
};

struct LineCount {
  std::uint64_t forward = 0;
  std::uint64_t backward = 0;
  std::map<int, std::uint64_t> forward_by_class;
  std::map<int, std::uint64_t> backward_by_class;
};

class Scene {
 public:
  Scene(const SceneOptions& options, std::vector<Zone> zones, std::vector<Line> lines);

  // After each tracker update at capture time `ns`: appends its events.
  void observe(const Tracker& tracker, std::uint64_t ns, std::vector<SceneEvent>& out);
  // The pipeline stops: every live reported track ends (reason shutdown).
  void end_all(Tracker& tracker, std::uint64_t ns, std::vector<SceneEvent>& out);

  [[nodiscard]] const std::vector<Zone>& zones() const { return zones_; }
  [[nodiscard]] const std::vector<Line>& lines() const { return lines_; }
  [[nodiscard]] const std::vector<LineCount>& line_counts() const { return counts_; }
  // Reported tracks in a zone now, per class (zone == zones().size(): the whole frame).
  [[nodiscard]] std::map<int, int> occupancy(std::size_t zone) const;
  // The zones a reported track is in, and whether it is stationary.
  [[nodiscard]] std::vector<std::size_t> zones_of(std::uint64_t track_id) const;
  [[nodiscard]] bool stationary(std::uint64_t track_id) const;

 private:
  struct Presence {  // what the scene remembers of one reported track
    int class_id = 0;
    std::vector<bool> in;                     // per zone
    std::vector<std::uint64_t> inside_since;  // per zone: 0, or when the anchor went in
    std::vector<bool> entered;
    std::vector<LineWatch> lines;  // per line
    Point still_at;                // where it stood still since still_since
    std::uint64_t still_since = 0;
    bool stationary = false;
    std::uint64_t last_event_ns = 0;
  };

  [[nodiscard]] SceneEvent event(EventType type, const Track& t, const Presence& p, std::uint64_t ns) const;
  void follow_zones(const Track& t, Presence& p, std::uint64_t ns, std::vector<SceneEvent>& out) const;
  void follow_lines(const Track& t, Presence& p, std::uint64_t ns, std::vector<SceneEvent>& out);
  [[nodiscard]] bool follow_stillness(const Track& t, Presence& p, std::uint64_t ns) const;
  void finish(const Track& t, const char* reason, std::uint64_t ns, std::vector<SceneEvent>& out);

  SceneOptions options_;
  std::vector<Zone> zones_;
  std::vector<Line> lines_;
  std::vector<LineCount> counts_;
  std::map<std::uint64_t, Presence> present_;  // by track id
};

}  // namespace shmyolo::track
