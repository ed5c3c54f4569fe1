// The pipeline's live state: who runs, what each worker is doing, and
// per-camera statistics the aggregator keeps. It lives in the one slot of a
// ring segment named "shmyolo.<pipeline>.status" (see status_segment.hpp),
// so processes of another container (`shmyolo run --role workers`) attach it
// by name like any ring. Every field is a lock-free atomic; nothing holds a
// pointer.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include <shmyolo/stats/latency_histogram.hpp>

namespace shmyolo::pipeline {

inline constexpr int kMaxCameras = 64;  // the config's limits
inline constexpr int kMaxWorkers = 64;

// failed: its ingest was given up on (crash loop or an error a restart repeats).
// waiting: a camera fed from outside (`source: external`) with no frame yet,
// or whose producer has gone.
enum class CameraState : std::uint32_t { starting, running, retrying, finished, stopped, failed, waiting };

[[nodiscard]] constexpr const char* state_name(std::uint32_t state) {
  switch (static_cast<CameraState>(state)) {
    case CameraState::starting: return "starting";
    case CameraState::running: return "running";
    case CameraState::retrying: return "retrying";
    case CameraState::finished: return "finished";
    case CameraState::stopped: return "stopped";
    case CameraState::failed: return "failed";
    case CameraState::waiting: return "waiting";
  }
  return "unknown";
}

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
inline constexpr std::uint64_t kStatusLayoutTag = 0x5354415455530009ULL;  // "STATUS" + version 9

// What a process outside the pipeline needs to use its rings (the Python
// package, a gateway): which camera index is which, the model's class names,
// and how the model's input is letterboxed (so an outside producer places
// frames exactly as ingest does). Written by the supervisor before the status
// is published; never changed while the pipeline runs.
inline constexpr std::size_t kCameraNameBytes = 40;  // camera names are at most 32 characters (config rule)
inline constexpr std::size_t kClassNameBytes = 32;   // longer class names are cut to 31 characters
inline constexpr int kMaxClassNames = 1024;          // classes past it are shown by number only

struct PipelineFacts {
  std::uint32_t camera_count;
  std::uint32_t class_count;
  std::uint32_t letterbox;  // 1: keep the aspect ratio and pad; 0: stretch (detect::Preprocessing)
  std::uint32_t centered;   // 1: padding on both sides; 0: right and bottom
  std::uint32_t pad_value;  // the padding's grey level
  std::array<std::array<char, kCameraNameBytes>, kMaxCameras> cameras;  // NUL-terminated, config order
  std::array<std::uint32_t, kMaxCameras> external;                      // 1: `source: external`
  std::array<std::array<char, kClassNameBytes>, kMaxClassNames> classes;
};

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
  PipelineFacts facts;
  std::array<CameraStatus, kMaxCameras> cameras;
  std::array<WorkerStatus, kMaxWorkers> workers;
};

// The value of PipelineStatus::layout once the creator has initialised it.
inline constexpr std::uint64_t kStatusLayout = kStatusLayoutTag ^ sizeof(PipelineStatus);

}  // namespace shmyolo::pipeline
