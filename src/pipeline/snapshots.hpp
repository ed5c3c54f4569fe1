// The snapshots folder (outputs.snapshots): one JPEG per track, named by its
// event id, kept within a size and an age. Written by the aggregator
// (a temporary file renamed into place, so a reader never sees half a JPEG);
// read by the HTTP front at /v1/events/{id}/snapshot.jpg.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>

#include <shmyolo/config/pipeline_config.hpp>

namespace shmyolo::pipeline {

class Snapshots {
 public:
  // Lists what the folder holds already (a restarted aggregator keeps it).
  explicit Snapshots(config::SnapshotConfig config);

  // Saves (or replaces) event `id`'s snapshot, then trims the folder to its
  // limits, oldest first. False when the file cannot be written.
  bool save(const std::string& id, std::span<const std::uint8_t> jpeg, std::uint64_t now_unix_s);

  // Event ids are what shmyolo makes: [A-Za-z0-9_-], at most 128.
  [[nodiscard]] static bool valid_id(const std::string& id);
  [[nodiscard]] static std::filesystem::path path_of(const std::filesystem::path& dir, const std::string& id);

 private:
  struct Kept {
    std::uint64_t bytes = 0;
    std::uint64_t written_unix_s = 0;
  };
  void trim(std::uint64_t now_unix_s);

  config::SnapshotConfig config_;
  std::map<std::string, Kept> kept_;  // by id
  std::uint64_t bytes_ = 0;
  bool said_ = false;  // a write failure is said once
};

}  // namespace shmyolo::pipeline
