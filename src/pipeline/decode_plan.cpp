#include "decode_plan.hpp"

#include <algorithm>

namespace shmyolo::pipeline {

DecodePlan::DecodePlan(const Options& o, Clock::time_point start)
    : options_(o),
      due_(start),
      last_publish_(start),
      last_claim_(start),
      keyframes_(o.mode == config::DecodeMode::keyframes) {}

DecodePlan::Verdict DecodePlan::on_frame(Clock::time_point now, std::uint64_t claims) {
  if (claims != claims_seen_) {
    claims_seen_ = claims;
    last_claim_ = now;
  }
  if (options_.cap > Clock::duration::zero()) {
    if (now + tolerance() < due_) return Verdict::beyond_cap;
    due_ = std::max(due_ + options_.cap, now - options_.cap);  // no burst to catch up after a stall
  }
  // In latest mode a worker takes the newest frame: a claim since our last
  // publish took it.
  const bool waiting = published_ && claims == claims_at_publish_;
  steer(now, waiting);
  if (options_.latest && options_.period > Clock::duration::zero() && waiting &&
      now - last_publish_ < kFreshPeriods * options_.period) {
    return Verdict::not_fresh;
  }
  return Verdict::convert;
}

void DecodePlan::steer(Clock::time_point now, bool waiting) {
  if (options_.mode != config::DecodeMode::automatic || options_.period <= Clock::duration::zero()) return;
  const auto behind = std::chrono::duration_cast<Clock::duration>(behind_periods_ * options_.period);
  // Unknown until two key frames were seen (or never, where the source cannot tell).
  const bool few_taken = !claims_per_interval_ || *claims_per_interval_ <= kMostClaimsPerKeyInterval;
  if (!keyframes_ && waiting && now - last_claim_ >= behind && few_taken) {
    keyframes_ = true;  // the workers are behind this camera: key frames only
  } else if (keyframes_ && !waiting) {
    // The last key frame was taken: the workers have room again. This key
    // frame's successors refer to it, so every frame decodes from here.
    keyframes_ = false;
  }
}

void DecodePlan::share(double mine, double mean) {
  if (mean <= 0) return;
  const double ratio = mean / std::max(mine, mean / kMostBehindPeriods);
  behind_periods_ = std::clamp(kBehindPeriods * ratio, kFewestBehindPeriods, kMostBehindPeriods);
}

void DecodePlan::on_key_frame(std::uint64_t claims) {
  if (claims_at_key_) claims_per_interval_ = claims - *claims_at_key_;
  claims_at_key_ = claims;
}

void DecodePlan::on_published(Clock::time_point now, std::uint64_t claims) {
  published_ = true;
  last_publish_ = now;
  claims_at_publish_ = claims;
  claims_seen_ = claims;
}

bool DecodePlan::next_unused(Clock::time_point now) const {
  if (options_.cap <= Clock::duration::zero() || options_.interval <= Clock::duration::zero()) return false;
  return now + options_.interval + tolerance() < due_;
}

DecodePlan::Clock::duration DecodePlan::tolerance() const {
  // Half the source's interval: frames come a period apart give or take
  // jitter, and one a little early for the cap is still the one it wants
  // (a 30 fps stream capped at 10 gives every third frame, not fewer).
  return options_.interval > Clock::duration::zero() ? options_.interval / 2 : options_.cap / 10;
}

}  // namespace shmyolo::pipeline
