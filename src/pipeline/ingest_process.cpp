// One camera's ingest process: open the source (retrying with backoff while
// it fails), decode each frame once, correct it, letterbox it straight into a
// free slot of the camera's ring and publish it.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include <fmt/format.h>
#include <opencv2/core/utility.hpp>
#include <shmyolo/bus/ring.hpp>
#include <shmyolo/ingest/corrections.hpp>
#include <shmyolo/ingest/frame_source.hpp>

#include "child_table.hpp"
#include "context.hpp"
#include "cpu_meter.hpp"
#include "decode_plan.hpp"
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
    auto source = ingest::open_source(cam.config, &stop_requested);
    if (source) return std::move(*source);
    if (stop_requested()) break;  // the stop cut the opening short: no fault of the source
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

// Converts the source's current frame into a free slot and publishes it;
// false when the frame cannot be used as configured (an ROI outside it).
bool publish(Camera& cam, ingest::FrameSource& source, std::uint64_t index, std::uint64_t unix_ns,
             std::uint64_t mono_ns) {
  auto slot = free_slot(cam);
  if (!slot) {
    // Stopping: the frame is skipped. Otherwise every slot was being read
    // (latest): the ring counted it as rejected, which the statistics count
    // as skipped.
    if (stop_requested()) cam.status.skipped.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  auto placed = source.place(slot_pixels(*slot, cam.ring.geometry()), cam.ctx.model.preprocessing);
  if (!placed) {
    cam.producer.abandon(*slot);
    say(cam.config, placed.error());
    return false;
  }
  bus::FrameMeta meta = meta_of(*placed, CameraFrame{.camera = static_cast<std::uint32_t>(cam.index), .index = index});
  meta.capture_unix_ns = unix_ns;
  meta.capture_mono_ns = mono_ns;
  cam.producer.publish(*slot, meta);
  return true;
}

double target_fps(const config::CameraConfig& c, const ingest::FrameSource& s) {
  return c.fps >= 0 ? c.fps : s.native_fps();
}

Clock::duration period_of(double fps) {
  return fps > 0 ? std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / fps))
                 : Clock::duration::zero();
}

enum class Streamed {
  ended,     // the source ended, the configured count is done, or we stop
  failed,    // the source failed mid-way: reopen it
  unusable,  // its frames cannot be corrected as configured (an ROI outside them): a reopen would repeat it
};

// A frame's capture time on both clocks.
struct Captured {
  std::uint64_t unix_ns = bus::unix_ns();
  std::uint64_t mono_ns = bus::monotonic_ns();

  // Moves the capture back to `when` if that is earlier than now (a frame due
  // or arriving then, whose decoding counts in capture_to_publish).
  void at(Clock::time_point when) {
    // steady_clock is CLOCK_MONOTONIC, the clock of every *_mono_ns.
    const auto when_ns = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(when.time_since_epoch()).count());
    if (when_ns > mono_ns) return;
    unix_ns -= mono_ns - when_ns;
    mono_ns = when_ns;
  }
};

// A file played in real time: each frame arrives at its own time from the
// first, as a camera would send it; decoding late does not slow the clock.
class RealtimeClock {
 public:
  explicit RealtimeClock(double fps) : fps_(fps) {}

  // When the next frame should arrive, one frame interval after the last:
  // it is decoded then, as a camera's would be on arrival, and converted at
  // once while its pixels are still in the cache.
  [[nodiscard]] Clock::time_point next_expected() const {
    if (!started_ || fps_ <= 0) return Clock::time_point::min();
    return last_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1 / fps_));
  }

  // When the frame of file time `t` (else the n-th frame) arrives.
  Clock::time_point arrival(std::optional<double> t, std::uint64_t n) {
    const double at = t.value_or(fps_ > 0 ? static_cast<double>(n) / fps_ : 0);
    const auto now = Clock::now();
    auto when = start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(at - start_s_));
    // The first frame, or a jump in the file's time (a damaged timestamp):
    // the clock starts again here.
    if (!started_ || when > now + kJump || when < now - kJump) {
      started_ = true;
      start_ = now;
      start_s_ = at;
      when = now;
    }
    last_ = when;
    return when;
  }

 private:
  static constexpr auto kJump = std::chrono::seconds(5);
  double fps_;
  bool started_ = false;
  Clock::time_point start_;
  Clock::time_point last_;
  double start_s_ = 0;
};

// Every second, this camera's results per second and the mean over the
// cameras running, from the status every process shares: auto's share of
// the workers (DecodePlan::share).
class Shares {
 public:
  Shares(const Context& ctx, int camera) : ctx_(ctx), camera_(camera), last_(ctx.config->cameras.size()) {}

  void update(DecodePlan& plan, Clock::time_point now) {
    if (now - at_ < std::chrono::seconds(1)) return;
    const double dt = std::chrono::duration<double>(now - at_).count();
    const bool first = at_ == Clock::time_point{};
    at_ = now;
    double sum = 0;
    int running = 0;
    double mine = 0;
    for (std::size_t c = 0; c < last_.size(); ++c) {
      const auto& st = ctx_.status->cameras[c];
      // relaxed: statistics; a stale read shifts one second's share a little.
      const std::uint64_t results = st.results.load(std::memory_order_relaxed);
      const double rate = static_cast<double>(results - std::min(results, last_[c])) / dt;
      last_[c] = results;
      if (st.state.load(std::memory_order_relaxed) != static_cast<std::uint32_t>(CameraState::running)) continue;
      sum += rate;
      ++running;
      if (static_cast<int>(c) == camera_) mine = rate;
    }
    if (!first && running > 1) plan.share(mine, sum / running);
  }

 private:
  const Context& ctx_;
  int camera_;
  std::vector<std::uint64_t> last_;
  Clock::time_point at_{};
};

// Sleeps until `when`, waking to stop; keeps the heartbeat going.
void wait_until(bus::Producer& producer, Clock::time_point when) {
  while (!stop_requested() && Clock::now() < when) {
    producer.heartbeat();
    std::this_thread::sleep_until(std::min(when, Clock::now() + std::chrono::milliseconds(100)));
  }
}

DecodePlan make_plan(const Camera& cam, const ingest::FrameSource& source, bool self_paced) {
  const Clock::duration cap = period_of(target_fps(cam.config, source));
  const Clock::duration interval = period_of(source.native_fps());
  config::DecodeMode mode = config::decode_of(cam.config);
  if (!source.can_skip_decoding()) mode = config::DecodeMode::all;
  return DecodePlan({.mode = mode,
                     .latest = cam.config.delivery == bus::Delivery::latest,
                     .cap = self_paced ? cap : Clock::duration::zero(),
                     .period = cap > Clock::duration::zero() ? cap : interval,
                     .interval = interval},
                    Clock::now());
}

// The source's decode counts into the camera's, by difference (a reopened
// source counts from 0 again).
class DecodeTally {
 public:
  explicit DecodeTally(CameraStatus& status) : status_(status) {}
  void update(const ingest::DecodeCounts& now) {
    // relaxed: statistics, read for display only.
    status_.frames_read.fetch_add(now.decoded - seen_.decoded, std::memory_order_relaxed);
    status_.not_decoded.fetch_add(now.not_decoded - seen_.not_decoded, std::memory_order_relaxed);
    seen_ = now;
  }
  void keyframes_only(bool on, Clock::duration d) {
    status_.keyframes_only.store(on ? 1 : 0, std::memory_order_relaxed);
    if (on) {
      status_.keyframes_only_ns.fetch_add(
          static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()),
          std::memory_order_relaxed);
    }
  }

 private:
  CameraStatus& status_;
  ingest::DecodeCounts seen_;
};

Streamed stream_frames(Camera& cam, ingest::FrameSource& source, std::uint64_t& index) {
  const bool realtime = cam.config.realtime && !source.live();
  // A live source or a file in real time sends frames at its own rate, and
  // those beyond the cap are skipped; any other file is read when due.
  const bool self_paced = source.live() || realtime;
  const Clock::duration read_period = self_paced ? Clock::duration::zero() : period_of(target_fps(cam.config, source));
  DecodePlan plan = make_plan(cam, source, self_paced);
  RealtimeClock clock(source.native_fps());
  DecodeTally tally(cam.status);
  Shares shares(cam.ctx, cam.index);
  CpuMeter cpu(cam.status.cpu_ns);
  const auto& claims = cam.ring.header().counters.claimed;
  auto due = Clock::now();
  auto last = Clock::now();
  std::uint64_t decoded = 0;
  std::string error;
  cam.status.state.store(static_cast<std::uint32_t>(CameraState::running), std::memory_order_relaxed);
  while (!stop_requested()) {
    if (read_period > Clock::duration::zero()) std::this_thread::sleep_until(due);
    // Capture time: a paced file's or synthetic camera's frame is taken when
    // it was due, exactly, so frames are a period apart as the scene moves
    // (the tracker predicts by these times) and decoding or drawing counts
    // in capture_to_publish; a live source's read waits for the frame to
    // arrive, which does not count.
    Captured captured;
    if (read_period > Clock::duration::zero()) captured.at(due);
    if (realtime) wait_until(cam.producer, clock.next_expected());
    source.keyframes_only(plan.keyframes_only());
    source.next_unused(plan.next_unused(Clock::now()));
    const ingest::ReadStatus got = source.next(error);
    tally.update(source.decode_counts());
    cpu.account();
    if (source.captured_by_read()) captured = Captured{};
    if (got == ingest::ReadStatus::end) return Streamed::ended;
    if (got == ingest::ReadStatus::pending) {
      cam.producer.heartbeat();
      continue;
    }
    if (got == ingest::ReadStatus::error) {
      cam.status.source_errors.fetch_add(1, std::memory_order_relaxed);
      say(cam.config, error);
      if (cam.config.kind == config::SourceKind::image_folder) continue;  // a bad file: skip it
      return Streamed::failed;
    }
    if (realtime) {
      const auto arrives = clock.arrival(source.frame_time(), decoded);
      wait_until(cam.producer, arrives);
      captured = Captured{};
      captured.at(arrives);
    }
    ++decoded;
    const auto now = Clock::now();
    tally.keyframes_only(plan.keyframes_only(), now - last);
    last = now;
    if (read_period > Clock::duration::zero()) due = std::max(due + read_period, now - read_period);
    shares.update(plan, now);
    // relaxed: a count that steers decoding; no memory is read through it.
    const std::uint64_t claimed = claims.load(std::memory_order_relaxed);
    if (source.key_frame()) plan.on_key_frame(claimed);
    const DecodePlan::Verdict verdict = plan.on_frame(now, claimed);
    if (verdict != DecodePlan::Verdict::convert) {
      cam.status.skipped.fetch_add(1, std::memory_order_relaxed);
      cam.producer.heartbeat();  // alive, though publishing nothing (key frames may be seconds apart)
      continue;
    }
    // The claim count before publishing: a worker may take the frame at once,
    // and that claim must read as taken, not as the count to wait past.
    const std::uint64_t claims_before = claims.load(std::memory_order_relaxed);
    if (!publish(cam, source, index++, captured.unix_ns, captured.mono_ns)) return Streamed::unusable;
    plan.on_published(Clock::now(), claims_before);
    if (cam.config.frames > 0 && index >= cam.config.frames) return Streamed::ended;  // the configured count is done
  }
  return Streamed::ended;
}

}  // namespace

int run_ingest(const Context& ctx, int camera) {
  // OpenCV's resizes and conversions on this thread: cameras already run in
  // parallel as processes, and a thread pool in each would only contend.
  cv::setNumThreads(0);
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
