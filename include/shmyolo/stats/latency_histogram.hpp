// A latency histogram that several processes can fill at once: fixed-size,
// lock-free, no pointers, so it can live in shared memory (placement-new it
// into a MAP_SHARED mapping). Buckets split each doubling into 8 equal
// steps, so a percentile is known to within 12.5 % from 1 µs to 17 minutes.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace shmyolo::stats {

class LatencyHistogram {
 public:
  static constexpr int kPerDoubling = 8;
  static constexpr int kBuckets = 30 * kPerDoubling;  // 2^30 µs ≈ 17.9 minutes

  void record_ns(std::uint64_t ns);
  // Upper edge of the bucket holding the p-th sample (0 < p <= 1), in
  // milliseconds; 0 when empty.
  [[nodiscard]] double percentile_ms(double p) const;
  [[nodiscard]] std::uint64_t count() const;
  // Samples in buckets whose upper edge is at most `ms`: a Prometheus
  // bucket's cumulative count, exact to the bucket grid (12.5 %).
  [[nodiscard]] std::uint64_t count_at_most_ms(double ms) const;
  [[nodiscard]] double sum_ms() const;  // of every sample, to the microsecond
  // Adds another histogram's samples (e.g. per camera into a total).
  void merge(const LatencyHistogram& other);
  // Removes an earlier copy's samples, leaving those recorded since it was
  // taken (buckets only grow, so this never goes below zero).
  void subtract(const LatencyHistogram& earlier);

 private:
  [[nodiscard]] static double upper_edge_us(int bucket);

  std::array<std::atomic<std::uint64_t>, kBuckets> buckets_{};
  std::atomic<std::uint64_t> sum_us_{0};
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "shared-memory histograms need lock-free atomics");

}  // namespace shmyolo::stats
