// What a camera decodes and converts, frame by frame: the fps cap on a
// source that paces itself, the fresh-frame rule, and `decode: auto`.
// Pure logic on times and the ring's claim counter, so it is tested without
// a decoder; docs/pipeline.md#decoding states the rules.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include <shmyolo/config/pipeline_config.hpp>

namespace shmyolo::pipeline {

class DecodePlan {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    config::DecodeMode mode = config::DecodeMode::all;
    bool latest = true;  // latest delivery: the fresh-frame rule applies
    // The cap's period on a source that paces itself (a live stream, a file
    // in real time), whose frames beyond it are skipped; 0: no such cap.
    Clock::duration cap{};
    // The time between frames the camera sends on: the cap's period, else
    // the source's own; 0 (an unpaced file): the fresh-frame rule and auto
    // have no time to go by, and are off.
    Clock::duration period{};
    Clock::duration interval{};  // the source's own time between frames; 0: unknown
  };

  enum class Verdict {
    convert,     // into a slot, and publish
    beyond_cap,  // skipped: before the cap's next due time
    not_fresh,   // skipped: this camera's last frame still waits, and is fresh
  };

  explicit DecodePlan(const Options& o, Clock::time_point start);

  // A frame was decoded at `now`; `claims` is the camera ring's claim counter.
  Verdict on_frame(Clock::time_point now, std::uint64_t claims);
  void on_published(Clock::time_point now, std::uint64_t claims);
  // The frame about to be passed to on_frame() is a key frame.
  void on_key_frame(std::uint64_t claims);

  // This camera's results per second and the mean over the running cameras:
  // a camera served less than the mean holds on to every frame longer
  // before it drops to key frames, and one served more lets go sooner, so
  // under overload the cameras converge on equal shares.
  void share(double mine, double mean);

  // Whether the source should decode key frames only, from the next frame.
  [[nodiscard]] bool keyframes_only() const { return keyframes_; }
  // Whether the next frame, expected one source interval from `now`, comes
  // before the cap lets a frame through (so a non-reference one need not be
  // decoded at all).
  [[nodiscard]] bool next_unused(Clock::time_point now) const;

  // Frames of the camera claimed by no worker this long, while one waited,
  // say the workers are behind: auto drops to key frames. Four periods: a
  // worker's round over the cameras may take a few periods while it keeps up.
  // share() scales it between the two bounds below.
  static constexpr int kBehindPeriods = 4;
  static constexpr double kFewestBehindPeriods = 2;
  static constexpr double kMostBehindPeriods = 16;
  // A waiting frame younger than this many periods is fresh: a newer one is
  // not converted to replace it.
  static constexpr int kFreshPeriods = 2;
  // Key frames only give a camera one frame per key-frame interval. While
  // the workers took more than this many of its frames in the last interval,
  // dropping to key frames would take from this camera what the decoding it
  // saves gives the others (with 8 cameras on 2 cores, 7 a second each), so
  // auto keeps decoding every frame, however late the claims come.
  static constexpr std::uint64_t kMostClaimsPerKeyInterval = 2;

 private:
  void steer(Clock::time_point now, bool waiting);
  // How early a frame may come for the cap and still be let through.
  [[nodiscard]] Clock::duration tolerance() const;

  Options options_;
  Clock::time_point due_;           // the cap's next due time
  Clock::time_point last_publish_;  // when this camera last published
  Clock::time_point last_claim_;    // when the claim counter was last seen to move
  std::uint64_t claims_seen_ = 0;
  std::uint64_t claims_at_publish_ = 0;
  std::optional<std::uint64_t> claims_at_key_;        // at the last key frame; none seen yet
  std::optional<std::uint64_t> claims_per_interval_;  // between the last two key frames
  bool published_ = false;
  bool keyframes_ = false;
  double behind_periods_ = kBehindPeriods;
};

}  // namespace shmyolo::pipeline
