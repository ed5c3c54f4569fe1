// The quantile every benchmark reports by: one definition, so figures of
// different benchmarks compare.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace shmyolo::bench {

// The q-quantile (0..1) of v, the nearest rank below, 0 when empty.
[[nodiscard]] inline double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
  std::ranges::nth_element(v, v.begin() + static_cast<std::ptrdiff_t>(k));
  return v[k];
}

}  // namespace shmyolo::bench
