// The statistics model: each statistic defined once, read from the rings'
// counters and the shared status, and rendered with one naming scheme by
// every output (the stderr table, --stats-json, MQTT stats, /v1/cameras,
// /metrics, the demo summary). docs/pipeline.md#statistics names them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>
#include <shmyolo/bus/ring.hpp>
#include <shmyolo/pipeline/status.hpp>
#include <shmyolo/stats/latency_histogram.hpp>
#include <shmyolo/stats/scoring.hpp>
#include <shmyolo/stats/tracking_score.hpp>

namespace shmyolo::pipeline {

// One camera's counters since the pipeline started.
struct CameraCounts {
  std::string camera;
  std::string state;
  // Decoding (docs/pipeline.md#decoding): decoded = frames_in + skipped.
  std::uint64_t decoded = 0;      // frames the decoder produced
  std::uint64_t not_decoded = 0;  // frames of the source never decoded (key frames only; unused non-reference frames)
  // Decoded, never converted into a slot: beyond the cap, a fresh one still
  // waiting, no slot free (latest: every one being read), or the stop came.
  std::uint64_t skipped = 0;
  double keyframes_only_s = 0;   // time spent decoding key frames only
  bool keyframes_only = false;   // ... now
  double cpu_s = 0;              // the ingest process's CPU time
  std::uint64_t frames_in = 0;   // converted and published into the camera's ring
  std::uint64_t frames_out = 0;  // whose detections the aggregator received
  // Published frames that will never get a result: overwritten or discarded
  // before a worker claimed them.
  std::uint64_t dropped = 0;
  // Queue mode only: publishes refused because the ring was full. The ingest
  // waits and offers the same frame again, so this is back-pressure, not loss.
  std::uint64_t backpressure = 0;
  std::uint64_t detections = 0;  // boxes in all results
  // Frames a worker refused because their slot's record was not one shmyolo
  // wrote (scribbled on, or another program's): no result, said once per kind.
  std::uint64_t refused = 0;
  // Frames whose inference failed (the worker said why, once per kind): no
  // detections, and not in frames_out.
  std::uint64_t failed = 0;
  // Results that came after a result of a newer frame of their camera had
  // gone out (a worker stuck past the order's limits, result_order.hpp):
  // written, but without track ids.
  std::uint64_t late = 0;
  std::uint64_t source_errors = 0;
  std::uint64_t restarts = 0;                      // of the camera's ingest process
  std::uint32_t queue_depth = 0;                   // frames waiting now for a worker
  std::optional<stats::Tally> scored;              // synthetic cameras scored against their truth
  std::optional<stats::TrackingTally> tracking{};  // ... and their tracks, where tracking is on
  std::uint64_t line_crossings = 0;                // ... and their lines' crossings, counted and true
  std::uint64_t true_line_crossings = 0;
};

[[nodiscard]] CameraCounts camera_counts(const std::string& camera, const bus::FrameRing& ring,
                                         const CameraStatus& status);

// Frames in a ring waiting for a worker.
[[nodiscard]] std::uint32_t ready_slots(const bus::FrameRing& ring);

// `digits` decimals, by result_json.hpp's rounded(): dividing the rounded
// integer by a power of ten gives the double nearest that decimal, so JSON
// shows 0.9385, not 0.9384999999999999.
[[nodiscard]] double round_to(double v, int digits);

// {"p50": ms, "p99": ms} from a histogram (the one percentile function of the
// statistics); null values, not 0, when it holds no samples.
[[nodiscard]] nlohmann::json percentiles_json(const stats::LatencyHistogram& h);

// The counters under their names; precision and recall only when scored,
// mota, idf1 and id_switches (and line crossings, counted and true, where
// the camera has lines) when its tracks are scored.
[[nodiscard]] nlohmann::json counts_json(const CameraCounts& c);
// mota, idf1 and id_switches of a tally, into `j`.
void tracking_json(const stats::TrackingTally& t, nlohmann::json& j);

}  // namespace shmyolo::pipeline
