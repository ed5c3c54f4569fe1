// How results read in JSON, the same in every output: JSON Lines and MQTT
// (the aggregator), HTTP answers and /v1/cameras (the front).
#pragma once

#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <shmyolo/pipeline/result.hpp>

namespace shmyolo::pipeline {

// Short decimals in the JSON: a float widened to double prints 17 digits.
inline double rounded(double v, double per_unit) {
  return std::round(v * per_unit) / per_unit;
}

// Milliseconds between two CLOCK_MONOTONIC stamps, 0 when out of order.
inline double ms_between(std::uint64_t from, std::uint64_t to) {
  return to > from ? rounded(static_cast<double>(to - from) / 1e6, 1000) : 0.0;
}

// The model's name for a class, or "classN" past the names it has.
inline std::string class_name(const std::vector<std::string>& names, std::int32_t class_id) {
  const auto id = static_cast<std::size_t>(class_id);
  return id < names.size() ? names[id] : fmt::format("class{}", id);
}

// `track_ids` (a camera's tracked frame): one per detection, 0 for a box no
// confirmed track holds yet (written as null); empty: no track_id key.
inline nlohmann::json detections_json(const std::vector<std::string>& names,
                                      std::span<const ResultDetection> detections,
                                      std::span<const std::uint64_t> track_ids = {}) {
  nlohmann::json out = nlohmann::json::array();
  for (std::size_t i = 0; i < detections.size(); ++i) {
    const auto& d = detections[i];
    nlohmann::json j{{"class_id", d.class_id},
                     {"class", class_name(names, d.class_id)},
                     {"score", rounded(d.score, 1000)},
                     {"box", {rounded(d.x1, 10), rounded(d.y1, 10), rounded(d.x2, 10), rounded(d.y2, 10)}}};
    if (i < track_ids.size()) j["track_id"] = track_ids[i] != 0 ? nlohmann::json(track_ids[i]) : nlohmann::json();
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace shmyolo::pipeline
