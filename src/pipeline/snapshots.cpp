#include "snapshots.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>

namespace shmyolo::pipeline {
namespace {

constexpr const char* kSuffix = ".jpg";

std::uint64_t unix_seconds(std::filesystem::file_time_type t) {
  const auto system = std::chrono::file_clock::to_sys(t);
  return static_cast<std::uint64_t>(
      std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::seconds>(system.time_since_epoch()).count()));
}

}  // namespace

bool Snapshots::valid_id(const std::string& id) {
  return !id.empty() && id.size() <= 128 && std::ranges::all_of(id, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

std::filesystem::path Snapshots::path_of(const std::filesystem::path& dir, const std::string& id) {
  return dir / (id + kSuffix);
}

Snapshots::Snapshots(config::SnapshotConfig config) : config_(std::move(config)) {
  std::error_code ec;
  std::filesystem::create_directories(config_.dir, ec);
  for (const auto& entry : std::filesystem::directory_iterator(config_.dir, ec)) {
    const auto& p = entry.path();
    if (p.extension() != kSuffix || !valid_id(p.stem().string()) || !entry.is_regular_file(ec)) continue;
    const Kept k{.bytes = entry.file_size(ec), .written_unix_s = unix_seconds(entry.last_write_time(ec))};
    kept_[p.stem().string()] = k;
    bytes_ += k.bytes;
  }
}

bool Snapshots::save(const std::string& id, std::span<const std::uint8_t> jpeg, std::uint64_t now_unix_s) {
  if (!valid_id(id) || jpeg.empty()) return false;
  const auto path = path_of(config_.dir, id);
  auto temporary = path;
  temporary += ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(jpeg.data()), static_cast<std::streamsize>(jpeg.size()));
    if (!out) {
      if (!said_)
        std::fprintf(stderr, "shmyolo: snapshots: cannot write %s: check the folder's space and rights\n",
                     temporary.c_str());
      said_ = true;
      std::error_code ec;
      std::filesystem::remove(temporary, ec);
      return false;
    }
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) return false;
  if (const auto old = kept_.find(id); old != kept_.end()) bytes_ -= old->second.bytes;
  kept_[id] = {.bytes = jpeg.size(), .written_unix_s = now_unix_s};
  bytes_ += jpeg.size();
  trim(now_unix_s);
  return true;
}

void Snapshots::trim(std::uint64_t now_unix_s) {
  const auto max_bytes = static_cast<std::uint64_t>(config_.max_mb * 1024 * 1024);
  const auto max_age = static_cast<std::uint64_t>(config_.max_age_s);
  while (!kept_.empty()) {
    const auto oldest = std::ranges::min_element(
        kept_, [](const auto& a, const auto& b) { return a.second.written_unix_s < b.second.written_unix_s; });
    const bool too_old = now_unix_s > oldest->second.written_unix_s + max_age;
    if (bytes_ <= max_bytes && !too_old) break;
    std::error_code ec;
    std::filesystem::remove(path_of(config_.dir, oldest->first), ec);
    bytes_ -= oldest->second.bytes;
    kept_.erase(oldest);
  }
}

}  // namespace shmyolo::pipeline
