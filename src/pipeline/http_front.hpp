// The HTTP detection service inside the aggregator process: each upload is
// decoded once (its header checked first) and letterboxed straight into a
// slot of the uploads ring, where any idle worker claims it like a camera
// frame; the worker's result comes back through its results ring to the
// aggregator, which hands it here to the waiting request. Workers never
// touch the network, and no upload is copied between processes.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <shmyolo/bus/ring.hpp>
#include <shmyolo/http/server.hpp>
#include <shmyolo/pipeline/result.hpp>
#include <shmyolo/stats/latency_histogram.hpp>
#include <shmyolo/sync.hpp>

#include "context.hpp"
#include "live_view.hpp"

namespace shmyolo::pipeline {

class HttpFront final : public http::Service {
 public:
  // Attaches the uploads ring as its producer and starts serving; nothing
  // (with the reason printed) when the ring or the port cannot be had.
  static std::unique_ptr<HttpFront> start(const Context& ctx);
  ~HttpFront() override;
  HttpFront(const HttpFront&) = delete;
  HttpFront& operator=(const HttpFront&) = delete;

  // From the aggregator's thread: the result of an upload (its origin is
  // ResultOrigin::upload, its source_index the request's id).
  void deliver(const ResultRecord& record);

  // From the aggregator's thread: a camera's result and its JSON line, for
  // the dashboard, /v1/cameras and /v1/events.
  void observe(const ResultRecord& record, const std::string& json_line, std::span<const std::uint64_t> track_ids);
  // From the aggregator's thread: a track's event (its type and JSON), and
  // a camera's active tracks and counts after it changed, for /v1/events,
  // /v1/tracks and /metrics.
  void observe_event(std::size_t camera, const std::string& type, const std::string& json);
  void observe_tracks(std::size_t camera, nlohmann::json tracks, std::map<std::string, std::string> counts);

  http::Reply detect(const http::Upload& upload) override;
  http::Reply cameras() override;
  http::Reply camera_frame(const std::string& name) override;
  http::Reply tracks(const std::map<std::string, std::string>& params) override;
  http::Reply snapshot(const std::string& id) override;
  std::expected<std::unique_ptr<http::EventStream>, http::Reply> events(
      const std::map<std::string, std::string>& params) override;
  http::Reply health() override;
  http::Reply metrics() override;
  void replied(int status) override;

 private:
  struct Pending {
    bool done = false;
    std::uint64_t claim_mono_ns = 0;
    std::uint64_t done_mono_ns = 0;
    float inference_ms = 0;
    float postprocess_ms = 0;
    std::uint32_t worker = 0;
    std::uint32_t failure = 0;  // ResultRecord::failure
    std::vector<ResultDetection> detections;
  };
  struct Stages {                    // upload latencies, as the cameras' in the shared status
    stats::LatencyHistogram decode;  // receipt -> pixels in the slot
    stats::LatencyHistogram queue_wait;
    stats::LatencyHistogram inference;
    stats::LatencyHistogram end_to_end;
  };

  // Pixels of uploads decoded and held at once, across request threads
  // (http.decode_megapixels): what bounds the front's memory, not the count
  // of requests. A request takes its header's pixels or is answered 503.
  class PixelBudget {
   public:
    explicit PixelBudget(std::uint64_t limit) : limit_(limit) {}
    [[nodiscard]] bool try_take(std::uint64_t pixels);
    void give_back(std::uint64_t pixels);
    [[nodiscard]] std::uint64_t limit() const { return limit_; }

   private:
    const std::uint64_t limit_;
    Mutex mutex_;
    std::uint64_t in_use_ SHMYOLO_GUARDED_BY(mutex_) = 0;
  };

  explicit HttpFront(const Context& ctx);
  http::Reply answer(int status, const std::string& message);
  http::Reply decode_and_detect(const http::Upload& upload, std::uint64_t received_ns);
  http::Reply publish_and_wait(const http::Upload& upload, const cv::Mat& image, std::uint64_t received_ns);
  std::string metrics_text() const;

  const Context& ctx_;
  const config::HttpConfig& http_;
  const std::size_t queue_;  // uploads admitted at once (upload_queue)
  std::unique_ptr<bus::FrameRing> ring_;
  std::unique_ptr<bus::Producer> producer_;
  Mutex producer_mutex_;  // one producer per ring: request threads take turns to fill a slot
  Mutex pending_mutex_;
  std::condition_variable delivered_;
  std::unordered_map<std::uint64_t, Pending> pending_ SHMYOLO_GUARDED_BY(pending_mutex_);  // by request id
  bool closing_ SHMYOLO_GUARDED_BY(pending_mutex_) = false;
  std::vector<bus::FrameRing> cameras_;                   // read-only, for /metrics and the live view
  std::atomic<std::uint64_t> next_id_{1};                 // relaxed: only unique ids are needed
  std::array<std::atomic<std::uint64_t>, 12> replies_{};  // by kStatusCodes' index; the last: any other
  std::unique_ptr<Stages> stages_ = std::make_unique<Stages>();
  PixelBudget decoding_;
  std::unique_ptr<LiveView> live_;  // before server_: outlives the streams the server holds
  std::unique_ptr<http::Server> server_;
};

}  // namespace shmyolo::pipeline
