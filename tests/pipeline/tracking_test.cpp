// Tracking in a running pipeline, as a user runs it: a synthetic camera with
// a zone and a line, a real mosquitto broker, the HTTP API; the outputs are
// read back from the files, the broker and the service.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/wait.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_support.hpp"

namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const std::string kShapes = shmyolo::test::source_dir() + "/models/shapes-320.onnx";

std::vector<json> lines_of(const std::filesystem::path& file) {
  std::vector<json> out;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
  return out;
}

// Polls `get` until `done` holds of its answer, for up to 30 s.
template <class Done>
std::string poll(httplib::Client& c, const std::string& path, Done done) {
  std::string body;
  for (int i = 0; i < 300; ++i) {
    const auto r = c.Get(path);
    if (r && r->status == 200) {
      body = r->body;
      if (done(body)) return body;
    }
    std::this_thread::sleep_for(100ms);
  }
  return body;
}

// The live API while tracks are followed: /v1/tracks, the event stream
// filtered by type, and the metrics.
void check_live_api(int http_port) {
  httplib::Client c("127.0.0.1", http_port);
  c.set_read_timeout(10, 0);
  const auto tracks = json::parse(poll(c, "/v1/tracks", [](const std::string& body) {
    const auto j = json::parse(body, nullptr, false);
    return !j.is_discarded() && !j["cameras"][0]["tracks"].empty();
  }));
  ASSERT_FALSE(tracks["cameras"][0]["tracks"].empty()) << tracks;
  const auto& first = tracks["cameras"][0]["tracks"][0];
  for (const char* key : {"track_id", "class", "box", "score", "velocity", "first_seen_unix_ns", "zones", "stationary"})
    EXPECT_TRUE(first.contains(key)) << key << " missing in " << first;
  EXPECT_TRUE(tracks["cameras"][0]["counts"].contains("all/all")) << tracks;
  EXPECT_EQ(c.Get("/v1/tracks?camera=porch")->status, 404);

  std::string stream;
  httplib::Client sse("127.0.0.1", http_port);
  sse.set_read_timeout(10, 0);
  sse.Get("/v1/events?type=update", [&](const char* data, std::size_t n) {
    stream.append(data, n);
    return std::ranges::count(stream, '\n') < 6;  // three events, two lines each
  });
  EXPECT_NE(stream.find("event: update\ndata: {"), std::string::npos) << stream;
  EXPECT_EQ(stream.find("event: detections"), std::string::npos) << stream;
  EXPECT_EQ(c.Get("/v1/events?type=sideways")->status, 400);

  const std::string metrics = c.Get("/metrics")->body;
  EXPECT_NE(metrics.find("shmyolo_tracks_active{pipeline=\"trk\",camera=\"yard\"} "), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("shmyolo_line_crossings_total{pipeline=\"trk\",camera=\"yard\",line=\"middle\",direction="
                         "\"forward\"} "),
            std::string::npos)
      << metrics;
}

// An event names its track's snapshot once one is saved; the service gives it.
void check_snapshot(int http_port, const std::filesystem::path& events) {
  std::string url;
  for (int i = 0; i < 300 && url.empty(); ++i) {
    for (const json& e : lines_of(events)) {
      if (e.contains("snapshot")) url = e["snapshot"].get<std::string>();
    }
    if (url.empty()) std::this_thread::sleep_for(100ms);
  }
  ASSERT_FALSE(url.empty()) << "no event names a snapshot";
  httplib::Client c("127.0.0.1", http_port);
  const auto r = c.Get(url);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "image/jpeg");
  EXPECT_GT(r->body.size(), 1000U);
  EXPECT_EQ(r->body.substr(0, 2), std::string("\xFF\xD8")) << "not a JPEG";
  EXPECT_EQ(c.Get("/v1/events/yard-1-999999/snapshot.jpg")->status, 404);
  EXPECT_EQ(c.Get("/v1/events/..%2F..%2Fetc%2Fpasswd/snapshot.jpg")->status, 404);
}

// JSON Lines: frames in order, every box with a track_id (null while its
// track is new). Returns the ids seen.
std::set<std::uint64_t> check_detections(const std::filesystem::path& file) {
  const auto results = lines_of(file);
  EXPECT_GE(results.size(), 40U);
  std::set<std::uint64_t> ids;
  std::vector<std::uint64_t> seqs;
  bool every_box_has_an_id_key = true;
  for (const json& line : results) {
    seqs.push_back(line["seq"].get<std::uint64_t>());
    for (const json& d : line["detections"]) {
      every_box_has_an_id_key = every_box_has_an_id_key && d.contains("track_id");
      if (d.contains("track_id") && !d["track_id"].is_null()) ids.insert(d["track_id"].get<std::uint64_t>());
    }
  }
  EXPECT_TRUE(every_box_has_an_id_key);
  EXPECT_TRUE(std::ranges::is_sorted(seqs) && std::ranges::adjacent_find(seqs) == seqs.end()) << "not in frame order";
  return ids;
}

// Events: every track reported new ends exactly once, the boxes' ids are
// tracks reported new. Returns the crossings.
std::uint64_t check_events(const std::filesystem::path& file, const std::set<std::uint64_t>& ids_in_boxes) {
  std::map<std::uint64_t, int> started;
  std::map<std::uint64_t, int> ended;
  std::map<std::string, int> by_type;
  std::set<std::string> reasons;
  std::set<std::string> cameras;
  for (const json& e : lines_of(file)) {
    const auto id = e["track_id"].get<std::uint64_t>();
    const auto type = e["type"].get<std::string>();
    ++by_type[type];
    if (type == "new") ++started[id];
    if (type == "end") ++ended[id];
    if (type == "end") reasons.insert(e["reason"].get<std::string>());
    cameras.insert(e["camera"].get<std::string>());
  }
  EXPECT_FALSE(started.empty());
  EXPECT_EQ(started, ended);
  EXPECT_TRUE(std::ranges::all_of(started, [](const auto& s) { return s.second == 1; }));
  EXPECT_TRUE(std::ranges::includes(std::set<std::string>{"lost", "shutdown"}, reasons)) << "an end without a reason";
  EXPECT_TRUE(reasons.contains("shutdown"));
  EXPECT_EQ(cameras, std::set<std::string>{"yard"});
  for (const auto id : ids_in_boxes) EXPECT_TRUE(started.contains(id)) << "track " << id << " never reported new";
  EXPECT_GT(by_type["update"], 0);
  return static_cast<std::uint64_t>(by_type["cross"]);
}

TEST(Tracking, TracksEventsAndCountsReachEveryOutput) {
  const shmyolo::test::TempShmDir dir;
  const shmyolo::test::TempShmDir shm;
  const int mqtt_port = shmyolo::test::free_port();
  const int http_port = shmyolo::test::free_port();
  const shmyolo::test::Broker broker(mqtt_port);
  ASSERT_TRUE(broker.ready());
  const auto sub = broker.subscribe("shmyolo/#");
  const auto detections = dir.path() / "detections.jsonl";
  const auto events = dir.path() / "events.jsonl";
  const auto config = dir.path() / "tracking.yaml";
  std::ofstream(config) << "name: trk\nshm_dir: " << shm.path().string() << "\nmodel: {path: " << kShapes
                        << ", confidence: 0.5}\n"
                        << R"(workers: {count: 2}
cameras:
  - name: yard
    source: "synthetic:?seed=1"
    fps: 10
    tracker: {update_interval: 0.5}
    zones: [{name: west, points: [[0, 0], [320, 0], [320, 480], [0, 480]]}]
    lines: [{name: middle, from: [320, 0], to: [320, 480]}]
outputs:
  jsonl: )" << detections.string()
                        << "\n  events: " << events.string()
                        << "\n  snapshots: {dir: " << (dir.path() / "snaps").string()
                        << ", max_mb: 1}\n  mqtt: {host: 127.0.0.1, port: " << mqtt_port
                        << "}\nhttp: {port: " << http_port << "}\n";
  auto run = shmyolo::test::spawn({shmyolo::test::shmyolo_bin(), "run", config.string()});
  check_live_api(http_port);
  check_snapshot(http_port, events);
  // Some seconds of tracking: tracks lost and ended, objects crossing the line.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (lines_of(detections).size() < 40 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(100ms);
  ASSERT_EQ(kill(run.pid, SIGTERM), 0);
  EXPECT_EQ(shmyolo::test::wait_exit(run.pid, 60s).value_or(-1), 0);
  const std::uint64_t crossings = check_events(events, check_detections(detections));

  // MQTT: events, and retained counts a subscriber that comes later still reads.
  std::string got;
  EXPECT_TRUE(shmyolo::test::read_until(sub.stdout_fd, "shmyolo/events {", 10s, &got)) << got;
  shmyolo::test::stop(sub);
  const auto later = broker.subscribe("shmyolo/yard/#", {"-C", "4"});
  got.clear();
  EXPECT_TRUE(shmyolo::test::read_until(later.stdout_fd, "shmyolo/yard/middle/crossings {", 10s, &got)) << got;
  shmyolo::test::stop(later);
  EXPECT_NE(got.find("shmyolo/yard/all/all 0"), std::string::npos) << "every track ended at the stop: " << got;
  const auto at = got.find("shmyolo/yard/middle/crossings ");
  ASSERT_NE(at, std::string::npos) << got;
  const auto counts = json::parse(got.substr(at + 30, got.find('\n', at) - at - 30));
  EXPECT_EQ(counts["forward"].get<std::uint64_t>() + counts["backward"].get<std::uint64_t>(), crossings) << counts;
}

float iou_of(const json& a, const json& b) {
  const double x1 = std::max(a[0].get<double>(), b[0].get<double>());
  const double y1 = std::max(a[1].get<double>(), b[1].get<double>());
  const double x2 = std::min(a[2].get<double>(), b[2].get<double>());
  const double y2 = std::min(a[3].get<double>(), b[3].get<double>());
  const double inter = std::max(0.0, x2 - x1) * std::max(0.0, y2 - y1);
  const auto area = [](const json& r) {
    return (r[2].get<double>() - r[0].get<double>()) * (r[3].get<double>() - r[1].get<double>());
  };
  return static_cast<float>(inter / (area(a) + area(b) - inter));
}

// The longest run of consecutive frames in which two tracks' boxes overlap
// at IoU > 0.7 (one object followed twice).
int longest_double_run(const std::vector<json>& lines) {
  std::map<std::pair<std::uint64_t, std::uint64_t>, int> run;
  int longest = 0;
  for (const json& line : lines) {
    std::map<std::pair<std::uint64_t, std::uint64_t>, int> next;
    const json& d = line["detections"];
    for (std::size_t i = 0; i < d.size(); ++i) {
      for (std::size_t j = i + 1; j < d.size(); ++j) {
        if (d[i]["track_id"].is_null() || d[j]["track_id"].is_null() || iou_of(d[i]["box"], d[j]["box"]) <= 0.7F)
          continue;
        const auto key = std::minmax(d[i]["track_id"].get<std::uint64_t>(), d[j]["track_id"].get<std::uint64_t>());
        next[key] = run[key] + 1;
        longest = std::max(longest, next[key]);
      }
    }
    run = std::move(next);
  }
  return longest;
}

// A real clip of people walking (vtest.avi) through YOLOv8n, with no labels:
// what can be asserted is that tracks are few beside the boxes (each person
// keeps one id) and that no person is followed by two tracks at once.
TEST(Tracking, PeopleWalkingInARealClipKeepTheirTracks) {
  const shmyolo::test::TempShmDir dir;
  const shmyolo::test::TempShmDir shm;
  const auto config = dir.path() / "clip.yaml";
  const auto detections = dir.path() / "detections.jsonl";
  std::ofstream(config) << "name: trkclip\nshm_dir: " << shm.path().string()
                        << "\nmodel: {path: " << shmyolo::test::shared_dir()
                        << "/models/yolov8n/yolov8n_fp32_from_int8.onnx"
                        << ", classes: [person]}\nworkers: {count: 2}\ncameras:\n  - {name: campus, source: "
                        << shmyolo::test::shared_dir()
                        << "/media/vtest.avi, frames: 150, delivery: queue}\noutputs: {jsonl: " << detections.string()
                        << ", stats_interval: 60}\n";
  const auto r = shmyolo::test::run({shmyolo::test::shmyolo_bin(), "run", config.string()}, 180s);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto lines = lines_of(detections);
  ASSERT_EQ(lines.size(), 150U);
  std::size_t boxes = 0;
  std::set<std::uint64_t> tracks;
  for (const json& line : lines) {
    for (const json& d : line["detections"]) {
      ++boxes;
      if (!d["track_id"].is_null()) tracks.insert(d["track_id"].get<std::uint64_t>());
    }
  }
  std::printf("%zu boxes, %zu tracks\n", boxes, tracks.size());
  EXPECT_GT(boxes, 500U);  // five to eight people in most frames
  EXPECT_LT(tracks.size() * 20, boxes) << "tracks break up: " << tracks.size() << " tracks for " << boxes << " boxes";
  EXPECT_LE(longest_double_run(lines), 3) << "one person followed by two tracks";
}

// The issue's targets on the demo's scenes (its two cameras, 640x480 at
// 10 fps, the bundled model), every frame scored in queue mode: MOTA at
// least 0.85, IDF1 at least 0.9, and each line's count exactly the true
// objects' own crossings.
TEST(Tracking, TheDemoScenesMeetTheTrackingTargets) {
  const shmyolo::test::TempShmDir dir;
  const shmyolo::test::TempShmDir shm;
  const auto config = dir.path() / "demo.yaml";
  const auto stats = dir.path() / "stats.json";
  std::ofstream(config) << "name: trkdemo\nshm_dir: " << shm.path().string() << "\nmodel: {path: " << kShapes
                        << ", confidence: 0.5}\n"
                        << R"(workers: {count: 2}
cameras:
  - name: cam0
    source: "synthetic:?width=640&height=480&seed=1"
    fps: 10
    frames: 200
    delivery: queue
    lines: [{name: middle, from: [320, 0], to: [320, 480]}, {name: equator, from: [0, 240], to: [640, 240]}]
  - name: cam1
    source: "synthetic:?width=640&height=480&seed=2"
    fps: 10
    frames: 200
    delivery: queue
    lines: [{name: middle, from: [320, 0], to: [320, 480]}, {name: equator, from: [0, 240], to: [640, 240]}]
outputs: {stats_interval: 60}
)";
  const auto r =
      shmyolo::test::run({shmyolo::test::shmyolo_bin(), "run", config.string(), "--stats-json", stats.string()}, 120s);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream in(stats);
  const auto s = json::parse(in);
  EXPECT_GE(s["total"]["mota"].get<double>(), 0.85) << s["total"];
  EXPECT_GE(s["total"]["idf1"].get<double>(), 0.9) << s["total"];
  std::uint64_t crossings = 0;
  for (const auto& cam : s["cameras"]) {
    EXPECT_EQ(cam["line_crossings"], cam["true_line_crossings"]) << cam;
    crossings += cam["true_line_crossings"].get<std::uint64_t>();
  }
  EXPECT_GT(crossings, 5U) << "a scene whose objects cross no line checks nothing";
}

}  // namespace
