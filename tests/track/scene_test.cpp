// Zones, lines and a track's events, on scripted tracks.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include <shmyolo/track/scene.hpp>

namespace shmyolo::track {
namespace {

constexpr std::uint64_t kFrameNs = 100'000'000;  // 10 fps

// A 40x40 box whose bottom centre (the anchor) is at (x, y).
detect::Detection standing_at(double x, double y, int class_id = 0) {
  const auto fx = static_cast<float>(x);
  const auto fy = static_cast<float>(y);
  return {class_id, 0.9F, {fx - 20, fy - 40, fx + 20, fy}};
}

struct Scripted {
  Tracker tracker{TrackerOptions{}};
  Scene scene;
  std::vector<SceneEvent> events;
  std::uint64_t ns = 0;

  Scripted(std::vector<Zone> zones, std::vector<Line> lines, SceneOptions options = {.update_interval_s = 0})
      : scene(options, std::move(zones), std::move(lines)) {}

  void frame(const std::vector<detect::Detection>& d) {
    tracker.update(ns, d);
    scene.observe(tracker, ns, events);
    ns += kFrameNs;
  }
  [[nodiscard]] int count(EventType type) const {
    return static_cast<int>(std::ranges::count_if(events, [&](const SceneEvent& e) { return e.type == type; }));
  }
};

const std::vector<Point> kSquare{{100, 100}, {200, 100}, {200, 200}, {100, 200}};

TEST(Scene, AZoneIsEnteredAfterItsDwellAndLeft) {
  Scripted run({{.name = "bay", .points = kSquare, .min_dwell_s = 0.25}}, {});
  for (int f = 0; f < 40; ++f) run.frame({standing_at(52 + 5.0 * f, 150)});  // through the square, out again
  ASSERT_EQ(run.count(EventType::enter), 1);
  ASSERT_EQ(run.count(EventType::leave), 1);
  const auto enter = std::ranges::find_if(run.events, [](const SceneEvent& e) { return e.type == EventType::enter; });
  // The anchor is inside from x = 102 (frame 10); 0.25 s later is frame 13.
  EXPECT_EQ(enter->at_ns, 13 * kFrameNs);
  EXPECT_EQ(enter->zones, std::vector<std::size_t>{0});
  EXPECT_EQ(run.count(EventType::update), 2);  // one per change of zones
}

TEST(Scene, OccupancyCountsTracksInsideByClass) {
  Scripted run({{.name = "bay", .points = kSquare}}, {});
  for (int f = 0; f < 3; ++f) run.frame({standing_at(150, 150, 0), standing_at(160, 190, 1), standing_at(400, 400, 1)});
  EXPECT_EQ(run.scene.occupancy(0), (std::map<int, int>{{0, 1}, {1, 1}}));
  EXPECT_EQ(run.scene.occupancy(1), (std::map<int, int>{{0, 1}, {1, 2}}));  // the whole frame
}

TEST(Scene, AZoneForOtherClassesIgnoresATrack) {
  Scripted run({{.name = "bay", .points = kSquare, .classes = {3}}}, {});
  for (int f = 0; f < 5; ++f) run.frame({standing_at(150, 150, 0)});
  EXPECT_EQ(run.count(EventType::enter), 0);
}

TEST(Scene, ALineCrossedOnceCountsOnceEvenIfTheBoxWobblesOnIt) {
  // A horizontal line at y = 200 from x = 0 to 400; walking down the picture
  // crosses it from its right (y < 200 is left of from->to? no: above is
  // left when facing +x with y down) to ... see the direction test below.
  Scripted run({}, {{.name = "door", .from = {0, 200}, .to = {400, 200}}});
  const std::vector<double> ys{150, 170, 190, 199, 201, 199, 201, 203, 210, 230, 250};
  for (const double y : ys) run.frame({standing_at(200, y)});
  EXPECT_EQ(run.count(EventType::cross), 1);
  const auto& c = run.scene.line_counts()[0];
  EXPECT_EQ(c.forward + c.backward, 1U);
}

TEST(Scene, ForwardIsFromTheLeftOfTheLineToItsRight) {
  // Facing from (0,200) to (400,200) in the picture (y down), the right hand
  // points down: walking down is forward, walking up is backward.
  Scripted down({}, {{.name = "door", .from = {0, 200}, .to = {400, 200}}});
  for (int f = 0; f < 12; ++f) down.frame({standing_at(200, 150 + 10.0 * f)});
  EXPECT_EQ(down.scene.line_counts()[0].forward, 1U);
  EXPECT_EQ(down.scene.line_counts()[0].backward, 0U);
  Scripted up({}, {{.name = "door", .from = {0, 200}, .to = {400, 200}, .count_forward = false}});
  for (int f = 0; f < 12; ++f) up.frame({standing_at(200, 260 - 10.0 * f)});
  EXPECT_EQ(up.scene.line_counts()[0].backward, 1U);
  EXPECT_EQ(up.count(EventType::cross), 1);
  Scripted ignored({}, {{.name = "door", .from = {0, 200}, .to = {400, 200}, .count_backward = false}});
  for (int f = 0; f < 12; ++f) ignored.frame({standing_at(200, 260 - 10.0 * f)});
  EXPECT_EQ(ignored.count(EventType::cross), 0);
}

TEST(Scene, PassingBesideTheSegmentIsNoCrossing) {
  Scripted run({}, {{.name = "door", .from = {0, 200}, .to = {100, 200}}});
  for (int f = 0; f < 12; ++f) run.frame({standing_at(300, 150 + 10.0 * f)});
  EXPECT_EQ(run.count(EventType::cross), 0);
}

TEST(Scene, EveryReportedTrackEndsExactlyOnce) {
  Scripted run({{.name = "bay", .points = kSquare}}, {});
  run.tracker = Tracker({.max_lost_s = 1.0});
  for (int f = 0; f < 5; ++f) run.frame({standing_at(150, 150), standing_at(400, 400)});
  for (int f = 0; f < 15; ++f) run.frame({standing_at(150, 150)});  // the second one is gone for 1.5 s
  EXPECT_EQ(run.count(EventType::end), 1);
  run.scene.end_all(run.tracker, run.ns, run.events);
  EXPECT_EQ(run.count(EventType::start), 2);
  EXPECT_EQ(run.count(EventType::end), 2);
  EXPECT_EQ(run.count(EventType::leave), 1);  // the one in the bay left it at shutdown
  const auto last = run.events.back();
  EXPECT_EQ(last.type, EventType::end);
  EXPECT_STREQ(last.reason, "shutdown");
  run.scene.end_all(run.tracker, run.ns, run.events);
  EXPECT_EQ(run.count(EventType::end), 2);
}

TEST(Scene, ATrackStandingStillBecomesStationary) {
  Scripted run({}, {}, {.update_interval_s = 0, .stationary_after_s = 1.0});
  for (int f = 0; f < 15; ++f) run.frame({standing_at(150, 150)});
  EXPECT_TRUE(run.scene.stationary(1));
  ASSERT_EQ(run.count(EventType::update), 1);
  EXPECT_TRUE(run.events.back().stationary);
}

TEST(Scene, UpdatesComeAtTheIntervalWhenNothingChanges) {
  Scripted run({}, {}, {.update_interval_s = 0.5, .stationary_after_s = 100});
  for (int f = 0; f < 22; ++f) run.frame({standing_at(150 + f, 150)});
  // Reported from its second frame (0.1 s), then every 0.5 s up to 2.1 s.
  EXPECT_EQ(run.count(EventType::update), 4);
}

}  // namespace
}  // namespace shmyolo::track
