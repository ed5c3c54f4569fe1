// One camera's ingest process: open the source (retrying with backoff while
// it fails), decode each frame once, correct it, letterbox it straight into a
// free slot of the camera's ring and publish it.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include <fmt/format.h>
#include <shmyolo/bus/ring.hpp>
#include <shmyolo/ingest/corrections.hpp>
#include <shmyolo/ingest/frame_source.hpp>

#include "child_table.hpp"
#include "context.hpp"
#include "slot_frame.hpp"

namespace shmyolo::pipeline {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kFirstRetry = std::chrono::milliseconds(500);
constexpr auto kLongestRetry = std::chrono::seconds(10);
// How long a camera waits for the workers to load the model before it starts
// anyway (a model that takes longer to load still gets frames after this).
constexpr auto kWorkersReadyWait = std::chrono::seconds(30);

void say(const config::CameraConfig& c, const std::string& what) {
  std::fprintf(stderr, "shmyolo: camera %s: %s\n", c.name.c_str(), what.c_str());
}

// Sleeps up to `d`, waking early when asked to stop; keeps the ring's
// producer heartbeat going so workers do not take the camera for dead.
void pause(bus::Producer& producer, Clock::duration d) {
  const auto until = Clock::now() + d;
  while (!stop_requested() && Clock::now() < until) {
    producer.heartbeat();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

struct Camera {
  const Context& ctx;
  int index;
  const config::CameraConfig& config;
  CameraStatus& status;
  bus::FrameRing& ring;
  bus::Producer& producer;
};

// Frames captured before any worker can take them would only age in the
// ring (queue mode) or be overwritten (latest mode): wait for the workers.
void wait_for_workers(const Context& ctx) {
  const auto until = Clock::now() + kWorkersReadyWait;
  const auto workers = static_cast<std::uint32_t>(ctx.config->workers.count);
  while (!stop_requested() && Clock::now() < until &&
         ctx.status->workers_ready.load(std::memory_order_relaxed) < workers) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::unique_ptr<ingest::FrameSource> open_with_retry(Camera& cam) {
  auto wait = std::chrono::duration_cast<Clock::duration>(kFirstRetry);
  while (!stop_requested()) {
    auto source = ingest::open_source(cam.config);
    if (source) return std::move(*source);
    cam.status.source_errors.fetch_add(1, std::memory_order_relaxed);
    cam.status.state.store(static_cast<std::uint32_t>(CameraState::retrying), std::memory_order_relaxed);
    say(cam.config,
        fmt::format("{}; retrying in {:.1f} s", source.error(), std::chrono::duration<double>(wait).count()));
    pause(cam.producer, wait);
    wait = std::min<Clock::duration>(wait * 2, kLongestRetry);
  }
  return nullptr;
}

// A free slot; in queue mode waits (never drops) until one frees or we stop.
std::optional<bus::WriteSlot> free_slot(Camera& cam) {
  while (!stop_requested()) {
    auto slot = cam.producer.acquire();
    if (slot) return *slot;
    if (cam.config.delivery == bus::Delivery::latest) return std::nullopt;  // every slot being read: skip
  }
  return std::nullopt;
}

void publish(Camera& cam, const cv::Mat& picture, std::uint64_t index, std::uint64_t unix_ns, std::uint64_t mono_ns,
             const cv::Size& source_size) {
  auto slot = free_slot(cam);
  if (!slot) return;
  // The region of interest's corner, so boxes land in full-frame pixels.
  const cv::Point crop = cam.config.roi ? cv::Point(cam.config.roi->x, cam.config.roi->y) : cv::Point();
  bus::FrameMeta meta =
      place_in_slot(picture, *slot, cam.ring.geometry(), cam.ctx.model.preprocessing,
                    CameraFrame{.camera = static_cast<std::uint32_t>(cam.index), .index = index}, source_size, crop);
  meta.capture_unix_ns = unix_ns;
  meta.capture_mono_ns = mono_ns;
  cam.producer.publish(*slot, meta);
}

double target_fps(const config::CameraConfig& c, const ingest::FrameSource& s) {
  return c.fps >= 0 ? c.fps : s.native_fps();
}

enum class Streamed {
  ended,     // the source ended, the configured count is done, or we stop
  failed,    // the source failed mid-way: reopen it
  unusable,  // its frames cannot be corrected as configured (an ROI outside them): a reopen would repeat it
};

Streamed stream_frames(Camera& cam, ingest::FrameSource& source, std::uint64_t& index) {
  ingest::Corrections corrections(cam.config);
  const double fps = target_fps(cam.config, source);
  const auto period = fps > 0 ? std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / fps))
                              : Clock::duration::zero();
  auto due = Clock::now();
  cv::Mat frame;
  std::string error;
  cam.status.state.store(static_cast<std::uint32_t>(CameraState::running), std::memory_order_relaxed);
  while (!stop_requested()) {
    // A file or folder plays at its rate; a live source is read as it comes
    // and frames beyond the cap are skipped.
    if (!source.live() && period > Clock::duration::zero()) std::this_thread::sleep_until(due);
    // Capture time: a paced file's or synthetic camera's frame is taken when
    // it was due, exactly, so frames are a period apart as the scene moves
    // (the tracker predicts by these times) and decoding or drawing counts
    // in capture_to_publish; a live source's read waits for the frame to
    // arrive, which does not count.
    std::uint64_t unix_ns = bus::unix_ns();
    std::uint64_t mono_ns = bus::monotonic_ns();
    if (!source.live() && period > Clock::duration::zero()) {
      const auto due_ns = static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(due.time_since_epoch()).count());
      if (due_ns <= mono_ns) {  // steady_clock is CLOCK_MONOTONIC, the clock of every *_mono_ns
        unix_ns -= mono_ns - due_ns;
        mono_ns = due_ns;
      }
    }
    const ingest::ReadStatus got = source.read(frame, error);
    if (source.captured_by_read()) {
      unix_ns = bus::unix_ns();
      mono_ns = bus::monotonic_ns();
    }
    if (got == ingest::ReadStatus::end) return Streamed::ended;
    if (got == ingest::ReadStatus::error) {
      cam.status.source_errors.fetch_add(1, std::memory_order_relaxed);
      say(cam.config, error);
      if (cam.config.kind == config::SourceKind::image_folder) continue;  // a bad file: skip it
      return Streamed::failed;
    }
    cam.status.frames_read.fetch_add(1, std::memory_order_relaxed);
    const auto now = Clock::now();
    if (source.live() && period > Clock::duration::zero() && now < due) continue;
    due = std::max(due + period, now - period);  // no burst to catch up after a stall
    auto picture = corrections.apply(frame);
    if (!picture) {
      say(cam.config, picture.error());
      return Streamed::unusable;
    }
    publish(cam, *picture, index++, unix_ns, mono_ns, frame.size());
    if (cam.config.frames > 0 && index >= cam.config.frames) return Streamed::ended;  // the configured count is done
  }
  return Streamed::ended;
}

}  // namespace

int run_ingest(const Context& ctx, int camera) {
  const auto& config = ctx.config->cameras[static_cast<std::size_t>(camera)];
  auto ring = bus::FrameRing::attach(ctx.camera_rings[static_cast<std::size_t>(camera)], ctx.shm_dir);
  if (!ring) return (say(config, ring.error().message), 2);
  auto producer = attach_producer(*ring);
  if (!producer) return (say(config, producer.error().message), 2);
  Camera cam{ctx, camera, config, ctx.status->cameras[static_cast<std::size_t>(camera)], *ring, *producer};
  std::uint64_t index = 0;
  auto wait = std::chrono::duration_cast<Clock::duration>(kFirstRetry);
  wait_for_workers(ctx);
  while (!stop_requested()) {
    auto source = open_with_retry(cam);
    if (!source) break;
    const std::uint64_t before = index;
    const Streamed streamed = stream_frames(cam, *source, index);
    if (streamed == Streamed::ended) break;
    if (streamed == Streamed::unusable) return kExitPermanent;  // the supervisor marks the camera failed
    if (index > before) wait = std::chrono::duration_cast<Clock::duration>(kFirstRetry);  // it had recovered
    // The source failed mid-way (stream down, camera unplugged): reopen.
    cam.status.state.store(static_cast<std::uint32_t>(CameraState::retrying), std::memory_order_relaxed);
    say(config, fmt::format("reopening in {:.1f} s", std::chrono::duration<double>(wait).count()));
    pause(*producer, wait);
    wait = std::min<Clock::duration>(wait * 2, kLongestRetry);
  }
  if (stop_requested()) return 0;
  cam.status.state.store(static_cast<std::uint32_t>(CameraState::finished), std::memory_order_relaxed);
  return 0;
}

}  // namespace shmyolo::pipeline
