// What the dashboard and its API see of the cameras while the pipeline runs:
// each camera's recent results (fed by the aggregator), its statistics, its
// newest frame with the boxes of that very frame drawn, and a Server-Sent
// Events feed of every result. Frames are read from the camera rings with
// the bus's seqlock peek, never claimed, so watching takes nothing from the
// workers.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <shmyolo/bus/ring.hpp>
#include <shmyolo/http/server.hpp>
#include <shmyolo/pipeline/result.hpp>
#include <shmyolo/sync.hpp>

#include "context.hpp"
#include "cpu_meter.hpp"

namespace shmyolo::pipeline {

class LiveView {
 public:
  LiveView(const Context& ctx, const std::vector<bus::FrameRing>& cameras, int max_streams);
  ~LiveView();
  LiveView(const LiveView&) = delete;
  LiveView& operator=(const LiveView&) = delete;

  // From the aggregator's thread: a camera's result and its JSON line.
  void observe(const ResultRecord& record, const std::string& json_line, std::span<const std::uint64_t> track_ids);
  // From the aggregator's thread: a track's event, and a camera's tracks and counts.
  void observe_event(std::size_t camera, const std::string& type, const std::string& json);
  void observe_tracks(std::size_t camera, nlohmann::json tracks, std::map<std::string, std::string> counts);
  // Ends every event stream and wakes every waiting request.
  void close();

  http::Reply cameras() const;
  http::Reply tracks(const std::map<std::string, std::string>& params) const;
  // Active tracks, occupancy and line crossings, in Prometheus' text format.
  void track_metrics(std::string& out) const;
  http::Reply latest_frame(const std::string& name);
  std::expected<std::unique_ptr<http::EventStream>, http::Reply> subscribe(
      const std::map<std::string, std::string>& params);

 private:
  struct Seen {  // one result, as the dashboard needs it
    std::uint64_t seq = 0;
    std::uint64_t done_mono_ns = 0;
    double end_to_end_ms = 0;
    std::uint32_t source_width = 0;
    std::uint32_t source_height = 0;
    std::vector<ResultDetection> detections;
    std::vector<std::uint64_t> track_ids;  // per detection (0: none yet); empty: not tracked
  };
  struct Subscriber {
    std::size_t camera = 0;          // or cameras().size(): all
    std::vector<std::string> types;  // event names wanted (detections, new, ...); empty: all
    std::deque<std::string> queue;
    std::uint64_t dropped = 0;
  };
  class EventFeed;

  struct Tracks {  // a camera's tracking as the aggregator last gave it
    nlohmann::json active = nlohmann::json::array();
    std::map<std::string, std::string> counts;
  };

  [[nodiscard]] std::optional<std::size_t> camera_index(const std::string& name) const;
  void push(std::size_t camera, const std::string& type, const std::string& event) SHMYOLO_REQUIRES(mutex_);
  [[nodiscard]] std::optional<Seen> result_for(std::size_t camera, std::uint64_t seq);
  void end_stream(Subscriber* s);
  // One camera's entry of /v1/cameras, and the last result's part of it.
  [[nodiscard]] nlohmann::json camera_json(std::size_t c, std::uint64_t now) const SHMYOLO_REQUIRES(mutex_);
  void last_result_json(const Seen& last, std::uint64_t now, nlohmann::json& j) const;
  // Each worker's and the aggregator's CPU % (needs mutex_: the rates' windows).
  [[nodiscard]] nlohmann::json process_cpu(std::uint64_t now) const SHMYOLO_REQUIRES(mutex_);

  const Context& ctx_;
  const std::vector<bus::FrameRing>& cameras_;
  const int max_streams_;
  mutable Mutex mutex_;  // also guards each Subscriber's queue and dropped
  std::condition_variable observed_;
  std::vector<std::deque<Seen>> recent_ SHMYOLO_GUARDED_BY(mutex_);     // per camera, newest last
  std::vector<Tracks> tracks_ SHMYOLO_GUARDED_BY(mutex_);               // per camera
  mutable std::vector<CpuRate> ingest_cpu_ SHMYOLO_GUARDED_BY(mutex_);  // per camera, for /v1/cameras
  mutable std::vector<CpuRate> worker_cpu_ SHMYOLO_GUARDED_BY(mutex_);  // per worker seat
  mutable CpuRate aggregator_cpu_ SHMYOLO_GUARDED_BY(mutex_);
  std::vector<std::unique_ptr<Subscriber>> subscribers_ SHMYOLO_GUARDED_BY(mutex_);
  bool closed_ SHMYOLO_GUARDED_BY(mutex_) = false;
};

}  // namespace shmyolo::pipeline
