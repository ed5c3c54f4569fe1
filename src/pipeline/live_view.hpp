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
#include <string>
#include <vector>

#include <shmyolo/bus/ring.hpp>
#include <shmyolo/http/server.hpp>
#include <shmyolo/pipeline/result.hpp>
#include <shmyolo/sync.hpp>

#include "context.hpp"

namespace shmyolo::pipeline {

class LiveView {
 public:
  LiveView(const Context& ctx, const std::vector<bus::FrameRing>& cameras, int max_streams);
  ~LiveView();
  LiveView(const LiveView&) = delete;
  LiveView& operator=(const LiveView&) = delete;

  // From the aggregator's thread: a camera's result and its JSON line.
  void observe(const ResultRecord& record, const std::string& json_line);
  // Ends every event stream and wakes every waiting request.
  void close();

  http::Reply cameras() const;
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
  };
  struct Subscriber {
    std::size_t camera = 0;  // or cameras().size(): all
    std::deque<std::string> queue;
    std::uint64_t dropped = 0;
  };
  class EventFeed;

  [[nodiscard]] std::optional<std::size_t> camera_index(const std::string& name) const;
  [[nodiscard]] std::optional<Seen> result_for(std::size_t camera, std::uint64_t seq);
  void end_stream(Subscriber* s);

  const Context& ctx_;
  const std::vector<bus::FrameRing>& cameras_;
  const int max_streams_;
  mutable Mutex mutex_;  // also guards each Subscriber's queue and dropped
  std::condition_variable observed_;
  std::vector<std::deque<Seen>> recent_ SHMYOLO_GUARDED_BY(mutex_);  // per camera, newest last
  std::vector<std::unique_ptr<Subscriber>> subscribers_ SHMYOLO_GUARDED_BY(mutex_);
  bool closed_ SHMYOLO_GUARDED_BY(mutex_) = false;
};

}  // namespace shmyolo::pipeline
