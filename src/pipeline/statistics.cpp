#include "statistics.hpp"

#include "result_json.hpp"

#include <cmath>

namespace shmyolo::pipeline {

CameraCounts camera_counts(const std::string& camera, const bus::FrameRing& ring, const CameraStatus& status) {
  // relaxed below: counters read for display; no other memory depends on them.
  const auto& k = ring.header().counters;
  const std::uint64_t rejected = k.rejected.load(std::memory_order_relaxed);
  const bool queue = ring.policy().delivery == bus::Delivery::queue;
  CameraCounts c{
      .camera = camera,
      .state = state_name(status.state.load(std::memory_order_relaxed)),
      .decoded = status.frames_read.load(std::memory_order_relaxed),
      .not_decoded = status.not_decoded.load(std::memory_order_relaxed),
      // latest mode: a frame refused because every slot was being
      // read was never converted, like the ingest's own skips.
      .skipped = status.skipped.load(std::memory_order_relaxed) + (queue ? 0 : rejected),
      .keyframes_only_s = static_cast<double>(status.keyframes_only_ns.load(std::memory_order_relaxed)) / 1e9,
      .keyframes_only = status.keyframes_only.load(std::memory_order_relaxed) != 0,
      .cpu_s = static_cast<double>(status.cpu_ns.load(std::memory_order_relaxed)) / 1e9,
      .frames_in = k.published.load(std::memory_order_relaxed),
      .frames_out = status.results.load(std::memory_order_relaxed),
      .dropped = k.dropped.load(std::memory_order_relaxed),
      .backpressure = queue ? rejected : 0,
      .detections = status.detections.load(std::memory_order_relaxed),
      .refused = status.refused.load(std::memory_order_relaxed),
      .failed = status.failed.load(std::memory_order_relaxed),
      .late = status.late.load(std::memory_order_relaxed),
      .source_errors = status.source_errors.load(std::memory_order_relaxed),
      .restarts = status.restarts.load(std::memory_order_relaxed),
      .queue_depth = ready_slots(ring),
      .scored = std::nullopt};
  if (status.scored.load(std::memory_order_relaxed) != 0) {
    c.scored = stats::Tally{status.true_positives.load(std::memory_order_relaxed),
                            status.false_positives.load(std::memory_order_relaxed),
                            status.false_negatives.load(std::memory_order_relaxed)};
  }
  if (status.tracking_scored.load(std::memory_order_relaxed) != 0) {
    c.tracking = stats::TrackingTally{.objects = status.truth_objects.load(std::memory_order_relaxed),
                                      .boxes = status.track_boxes.load(std::memory_order_relaxed),
                                      .misses = status.track_misses.load(std::memory_order_relaxed),
                                      .false_boxes = status.track_false_boxes.load(std::memory_order_relaxed),
                                      .id_switches = status.id_switches.load(std::memory_order_relaxed),
                                      .id_true_positives = status.id_true_positives.load(std::memory_order_relaxed)};
    c.line_crossings = status.line_crossings.load(std::memory_order_relaxed);
    c.true_line_crossings = status.true_line_crossings.load(std::memory_order_relaxed);
  }
  return c;
}

void tracking_json(const stats::TrackingTally& t, nlohmann::json& j) {
  j["mota"] = round_to(t.mota(), 4);
  j["idf1"] = round_to(t.idf1(), 4);
  j["id_switches"] = t.id_switches;
}

std::uint32_t ready_slots(const bus::FrameRing& ring) {
  std::uint32_t n = 0;
  for (std::uint32_t i = 0; i < ring.geometry().slot_count; ++i) {
    // acquire: pairs with the release that published or released the slot.
    const bus::SlotControl c{ring.descriptor(i).control.load(std::memory_order_acquire)};
    n += c.state() == bus::SlotState::ready ? 1 : 0;
  }
  return n;
}

double round_to(double v, int digits) {
  return rounded(v, std::pow(10.0, digits));
}

nlohmann::json percentiles_json(const stats::LatencyHistogram& h) {
  if (h.count() == 0) return {{"p50", nullptr}, {"p99", nullptr}};
  return {{"p50", round_to(h.percentile_ms(0.5), 2)}, {"p99", round_to(h.percentile_ms(0.99), 2)}};
}

nlohmann::json counts_json(const CameraCounts& c) {
  nlohmann::json j{{"camera", c.camera},
                   {"state", c.state},
                   {"decoded", c.decoded},
                   {"not_decoded", c.not_decoded},
                   {"skipped", c.skipped},
                   {"decoding", c.keyframes_only ? "keyframes" : "all"},
                   {"keyframes_only_s", round_to(c.keyframes_only_s, 2)},
                   {"cpu_s", round_to(c.cpu_s, 3)},
                   {"frames_in", c.frames_in},
                   {"frames_out", c.frames_out},
                   {"dropped", c.dropped},
                   {"backpressure", c.backpressure},
                   {"detections", c.detections},
                   {"source_errors", c.source_errors},
                   {"refused", c.refused},
                   {"failed", c.failed},
                   {"late", c.late},
                   {"restarts", c.restarts},
                   {"queue_depth", c.queue_depth}};
  if (c.scored) {
    j["precision"] = round_to(c.scored->precision(), 4);
    j["recall"] = round_to(c.scored->recall(), 4);
  }
  if (c.tracking) {
    tracking_json(*c.tracking, j);
    j["line_crossings"] = c.line_crossings;
    j["true_line_crossings"] = c.true_line_crossings;
  }
  return j;
}

}  // namespace shmyolo::pipeline
