// shmyolo bench tracker: what tracking costs per frame. `objects` boxes move
// across a 1920x1080 frame at constant speeds, bouncing off its edges, with
// the detector's faults imitated (a few pixels of jitter, a box missed now
// and then, some scored low); the tracker and a scene of two zones and two
// lines follow them. Prints the time per frame and how well identities held.
#pragma once

#include <cstdint>
#include <string>

namespace shmyolo::bench {

struct TrackerBenchOptions {
  int objects = 50;
  int frames = 3000;
  std::uint64_t seed = 1;
};

struct TrackerBenchReport {
  double mean_ms = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
  std::uint64_t tracks_started = 0;  // ideally one per object
  std::uint64_t id_switches = 0;     // an object's box given another track's id than before
  std::uint64_t events = 0;
};

[[nodiscard]] TrackerBenchReport run_tracker_bench(const TrackerBenchOptions& options);
[[nodiscard]] std::string tracker_table(const TrackerBenchOptions& options, const TrackerBenchReport& report);

}  // namespace shmyolo::bench
