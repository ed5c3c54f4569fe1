// The synthetic camera's scene written as a video file through FFmpeg's
// libraries (H.264 by libx264, HEVC by libx265, or MJPEG): a camera-like clip
// with a fixed key-frame interval, for `shmyolo synth --video`, `shmyolo
// bench cameras` and tests, so no clip has to be downloaded.
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>

namespace shmyolo::ingest {

// What cameras send: H.264, HEVC (H.265, the default of many newer IP
// cameras) or MJPEG (USB cameras, many IP cameras).
enum class VideoCodec { h264, hevc, mjpeg };

struct ClipOptions {
  std::filesystem::path path{};  // the container follows the extension (.mp4, .mkv, ...)
  int width = 1920;
  int height = 1080;
  int fps = 30;
  int frames = 300;
  int keyint = 30;  // frames from one key frame to the next (no scene-cut key frames)
  int bframes = 0;  // B-frames between references (cameras send none; files often have some)
  std::uint64_t seed = 1;
  int min_objects = 1;
  int max_objects = 4;
  bool full_range = false;  // JPEG's range (YUVJ420P), as many IP cameras' H.264 is; else limited (YUV420P)
  // MJPEG is always 4:2:2 of JPEG's range (YUVJ422P), every frame a key
  // frame, as USB cameras and many IP cameras send it.
  VideoCodec codec = VideoCodec::h264;
};

// Writes the clip; the message says what failed.
[[nodiscard]] std::expected<void, std::string> write_synthetic_clip(const ClipOptions& o);

}  // namespace shmyolo::ingest
