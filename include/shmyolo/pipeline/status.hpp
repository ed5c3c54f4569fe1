// The pipeline's live state: who runs, what each worker is doing, and
// per-camera statistics the aggregator keeps. It lives in the one slot of a
// ring segment named "shmyolo.<pipeline>.status" (see status_segment.hpp),
// so processes of another container (`shmyolo run --role workers`) attach it
// by name like any ring. Every field is a lock-free atomic; nothing holds a
// pointer.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include <shmyolo/stats/latency_histogram.hpp>

namespace shmyolo::pipeline {

inline constexpr int kMaxCameras = 64;  // the config's limits
inline constexpr int kMaxWorkers = 64;

// failed: its ingest was given up on (crash loop or an error a restart repeats).
enum class CameraState : std::uint32_t { starting, running, retrying, finished, stopped, failed };

struct CameraStatus {
  std::atomic<std::uint32_t> state;
  std::atomic<std::uint64_t> frames_read;  // decoded from the source
  // Frames the source had that were never decoded (key frames only, a
  // non-reference frame beyond the cap), and decoded ones never converted
  // into a slot (beyond the cap, or a fresh one still waiting): see
  // docs/pipeline.md#decoding.
  std::atomic<std::uint64_t> not_decoded;
  std::atomic<std::uint64_t> skipped;
  std::atomic<std::uint64_t> keyframes_only_ns;  // time spent decoding key frames only
  std::atomic<std::uint32_t> keyframes_only;     // 1 while it does
  std::atomic<std::uint64_t> cpu_ns;             // the ingest process's CPU time (all its starts)
  std::atomic<std::uint64_t> source_errors;      // failed opens and reads
  std::atomic<std::uint64_t> restarts;           // of the ingest process
  std::atomic<std::uint64_t> results;            // frames the aggregator received
  std::atomic<std::uint64_t> detections;
  std::atomic<std::uint64_t> refused;  // frames a worker refused: their record was not one shmyolo wrote
  std::atomic<std::uint64_t> failed;   // frames whose inference failed: no detections
  std::atomic<std::uint64_t> late;     // results that came after a newer one of their camera: not tracked
  // Synthetic cameras with a model of their classes: detections scored
  // against the renderer's truth (stats::score), so precision and recall
  // are known live.
  std::atomic<std::uint32_t> scored;
  std::atomic<std::uint64_t> true_positives;
  std::atomic<std::uint64_t> false_positives;
  std::atomic<std::uint64_t> false_negatives;
  // ... and, where the camera tracks, its tracks (stats::TrackingScore) and
  // its lines' crossings against the true objects' own.
  std::atomic<std::uint32_t> tracking_scored;
  std::atomic<std::uint64_t> truth_objects;
  std::atomic<std::uint64_t> track_boxes;
  std::atomic<std::uint64_t> track_misses;
  std::atomic<std::uint64_t> track_false_boxes;
  std::atomic<std::uint64_t> id_switches;
  std::atomic<std::uint64_t> id_true_positives;
  std::atomic<std::uint64_t> line_crossings;
  std::atomic<std::uint64_t> true_line_crossings;
  stats::LatencyHistogram end_to_end;          // capture -> detections ready
  stats::LatencyHistogram capture_to_publish;  // decode, corrections, letterbox
  stats::LatencyHistogram queue_wait;          // publish -> claimed by a worker
  stats::LatencyHistogram inference;
  stats::LatencyHistogram postprocess;
};

struct WorkerStatus {
  std::atomic<std::int32_t> pid;
  // CLOCK_MONOTONIC ns at which the current frame was claimed; 0 when idle.
  // The supervisor replaces a worker busy past workers.stuck_after.
  std::atomic<std::uint64_t> busy_since_ns;
  std::atomic<std::uint64_t> frames;
  std::atomic<std::uint64_t> restarts;
  std::atomic<std::uint64_t> cpu_ns;  // CPU time of the worker in this seat (all its starts)
};

// Written last by the creator (release) and checked by every attacher
// (acquire): a status of another shmyolo build, whose layout differs, is
// refused instead of misread. Bump the tag when PipelineStatus changes.
inline constexpr std::uint64_t kStatusLayoutTag = 0x5354415455530008ULL;  // "STATUS" + version 8

struct PipelineStatus {
  std::atomic<std::uint64_t> layout;    // kStatusLayoutTag ^ sizeof(PipelineStatus) once initialised
  std::atomic<std::uint32_t> stopping;  // set by the supervisor: children finish and exit
  std::atomic<std::uint32_t> cameras_finished;
  // Workers that have loaded the model and run it once (a replaced worker
  // counts again): cameras start capturing once every worker is ready.
  std::atomic<std::uint32_t> workers_ready;
  std::atomic<std::uint64_t> uploads_refused;    // uploads whose record was not one shmyolo wrote
  std::atomic<std::uint64_t> uploads_failed;     // uploads whose inference failed (answered 500)
  std::atomic<std::uint32_t> aggregator_starts;  // 1 at the first start, +1 at each restart
  std::atomic<std::uint64_t> aggregator_cpu_ns;  // the aggregator's CPU time (all its starts)
  std::array<CameraStatus, kMaxCameras> cameras;
  std::array<WorkerStatus, kMaxWorkers> workers;
};

}  // namespace shmyolo::pipeline
