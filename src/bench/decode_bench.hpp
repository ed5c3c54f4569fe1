// shmyolo bench decode: what a camera's ingest costs per frame of one video,
// each way of reading it measured on one thread, side by side in one run:
// FFmpeg's decoder alone (the floor every path pays), the FFmpeg path into
// a slot (decode, then one swscale pass to the letterbox), key frames only,
// and the OpenCV path (decode to a full-size BGR picture, then the resize).
// Then both paths' slots side by side: whether the FFmpeg path gives this
// video, at this size, the OpenCV path's very pixels (docs/pipeline.md).
#pragma once

#include <string>
#include <vector>

namespace shmyolo::bench {

struct DecodeBenchOptions {
  std::string source;  // a video file
  int frames = 300;    // frames read per way (the file loops if shorter)
  int input = 640;     // the slot's side: the model's input
  // Frames read at the video's own rate, as a real-time camera's are: each
  // is then decoded with cold caches, which costs more than back to back.
  bool paced = false;
};

struct DecodeWay {
  std::string name;
  double cpu_ms_per_frame = 0;  // CPU time per frame of the stream
  std::uint64_t decoded = 0;
  std::uint64_t frames = 0;  // frames of the stream gone through
};

// The FFmpeg path's slots against the OpenCV path's, frame by frame.
struct SlotMatch {
  int frames = 0;   // frames compared
  int same = 0;     // ... whose slots are the same to the byte
  int largest = 0;  // the largest difference of one byte, in grey levels
};

struct DecodeBenchReport {
  std::vector<DecodeWay> ways;  // the first is the floor
  SlotMatch match;
  std::string error;
};

[[nodiscard]] DecodeBenchReport run_decode_bench(const DecodeBenchOptions& options);
// The floor alone: FFmpeg's decoder's CPU ms per frame of the file, one
// thread; with `keyframes_only`, what decoding only its key frames costs.
[[nodiscard]] DecodeWay decode_floor(const DecodeBenchOptions& options, bool keyframes_only, std::string& error);
[[nodiscard]] std::string decode_table(const DecodeBenchOptions& options, const DecodeBenchReport& report);

}  // namespace shmyolo::bench
