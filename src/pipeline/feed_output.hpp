// The aggregator's detections feed (include/shmyolo/pipeline/feed.hpp): each
// camera result it gives out, with its track ids, into the feed ring.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include <shmyolo/bus/ring.hpp>
#include <shmyolo/pipeline/result.hpp>

#include "context.hpp"

namespace shmyolo::pipeline {

class FeedOutput {
 public:
  // Attaches the feed ring and takes its producer role (a replaced
  // aggregator takes it over from its dead predecessor). Prints why and
  // returns nothing when it cannot.
  [[nodiscard]] static std::unique_ptr<FeedOutput> open(const Context& ctx);

  // `track_ids`: one per detection (0: none), or empty when the frame was
  // not tracked.
  void publish(const ResultRecord& record, std::span<const std::uint64_t> track_ids);

 private:
  explicit FeedOutput(bus::FrameRing ring) : ring_(std::move(ring)) {}

  bus::FrameRing ring_;
  std::unique_ptr<bus::Producer> producer_;  // refers to ring_, which never moves once here
};

}  // namespace shmyolo::pipeline
