#include <shmyolo/stats/latency_histogram.hpp>

#include <bit>
#include <cmath>

namespace shmyolo::stats {

namespace {

// Bucket b: the octave from the highest set bit of the µs count, then one of
// 8 equal steps within it from the next three bits.
int bucket_of(std::uint64_t us) {
  if (us < 1) return 0;
  const int octave = static_cast<int>(std::bit_width(us)) - 1;
  const auto step = static_cast<int>(octave >= 3 ? (us >> (octave - 3)) & 7U : (us << (3 - octave)) & 7U);
  const int b = octave * LatencyHistogram::kPerDoubling + step;
  return b < LatencyHistogram::kBuckets ? b : LatencyHistogram::kBuckets - 1;
}

}  // namespace

void LatencyHistogram::record_ns(std::uint64_t ns) {
  // relaxed: each bucket is an independent counter, read for statistics only.
  buckets_[static_cast<std::size_t>(bucket_of(ns / 1000))].fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(ns / 1000, std::memory_order_relaxed);  // relaxed: as the buckets
}

std::uint64_t LatencyHistogram::count_at_most_ms(double ms) const {
  std::uint64_t n = 0;
  for (int b = 0; b < kBuckets && upper_edge_us(b) <= ms * 1000.0; ++b) {
    n += buckets_[static_cast<std::size_t>(b)].load(std::memory_order_relaxed);
  }
  return n;
}

double LatencyHistogram::sum_ms() const {
  return static_cast<double>(sum_us_.load(std::memory_order_relaxed)) / 1000.0;
}

std::uint64_t LatencyHistogram::count() const {
  std::uint64_t n = 0;
  for (const auto& b : buckets_) n += b.load(std::memory_order_relaxed);
  return n;
}

double LatencyHistogram::upper_edge_us(int bucket) {
  const int octave = bucket / kPerDoubling;
  const int step = bucket % kPerDoubling;
  return std::ldexp(1.0 + (step + 1) / static_cast<double>(kPerDoubling), octave);
}

double LatencyHistogram::percentile_ms(double p) const {
  const std::uint64_t total = count();
  if (total == 0) return 0;
  const auto rank = static_cast<std::uint64_t>(std::ceil(p * static_cast<double>(total)));
  std::uint64_t seen = 0;
  for (int b = 0; b < kBuckets; ++b) {
    seen += buckets_[static_cast<std::size_t>(b)].load(std::memory_order_relaxed);
    if (seen >= rank && seen > 0) return upper_edge_us(b) / 1000.0;
  }
  return upper_edge_us(kBuckets - 1) / 1000.0;
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (std::size_t b = 0; b < buckets_.size(); ++b) {
    buckets_[b].fetch_add(other.buckets_[b].load(std::memory_order_relaxed), std::memory_order_relaxed);
  }
  sum_us_.fetch_add(other.sum_us_.load(std::memory_order_relaxed), std::memory_order_relaxed);
}

void LatencyHistogram::subtract(const LatencyHistogram& earlier) {
  for (std::size_t b = 0; b < buckets_.size(); ++b) {
    buckets_[b].fetch_sub(earlier.buckets_[b].load(std::memory_order_relaxed), std::memory_order_relaxed);
  }
  sum_us_.fetch_sub(earlier.sum_us_.load(std::memory_order_relaxed), std::memory_order_relaxed);
}

}  // namespace shmyolo::stats
