// Optimal one-to-one matching of rows (tracks) to columns (detections).
#pragma once

#include <cstddef>
#include <limits>
#include <utility>
#include <vector>

namespace shmyolo::track {

inline constexpr float kNoMatch = std::numeric_limits<float>::infinity();

// Pairs (row, column) of least total cost, among costs below `limit`; a row
// or column may stay unmatched (it costs limit / 2, as lapjv's cost_limit in
// ByteTrack). `cost` is rows x columns, row-major; kNoMatch marks a pair that
// may not match. Rows and columns that share no allowed pair are solved
// apart, so a scene of many separate objects costs little more than a
// greedy match: the Hungarian method runs per cluster of overlapping boxes.
[[nodiscard]] std::vector<std::pair<std::size_t, std::size_t>> assign(const std::vector<float>& cost, std::size_t rows,
                                                                      std::size_t columns, float limit);

}  // namespace shmyolo::track
