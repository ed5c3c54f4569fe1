// A PNG of latency distributions: one cumulative curve per series (the
// share of frames done within x ms), drawn with OpenCV so the benchmark
// needs nothing else.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace shmyolo::bench {

struct LatencySeries {
  std::string label;
  std::vector<double> ms;
};

// False when the file cannot be written.
bool write_latency_plot(const std::filesystem::path& png, const std::string& title,
                        const std::vector<LatencySeries>& series);

}  // namespace shmyolo::bench
