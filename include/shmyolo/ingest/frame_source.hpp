// Where a camera's frames come from: video files, image folders, network
// streams and V4L2 devices through OpenCV (FFmpeg and V4L2 back ends), and
// the synthetic camera. Each frame is decoded once, here, into 8-bit pixels
// in the source's own colour order; corrections and the letterbox follow.
#pragma once

#include <expected>
#include <memory>
#include <string>

#include <opencv2/core.hpp>
#include <shmyolo/config/pipeline_config.hpp>

namespace shmyolo::ingest {

enum class ReadStatus {
  frame,  // `frame` holds the next picture
  end,    // a file or folder has no more frames (and does not loop)
  error,  // the source failed (stream down, device unplugged): reopen after a pause
};

class FrameSource {
 public:
  virtual ~FrameSource() = default;
  // `frame` may point into the source's buffers until the next read.
  virtual ReadStatus read(cv::Mat& frame, std::string& error) = 0;
  // Frames per second the source runs at by itself; 0 when it has no rate.
  [[nodiscard]] virtual double native_fps() const = 0;
  // A live source paces itself (a camera, a stream); a file or a folder is
  // read as fast as it is asked.
  [[nodiscard]] virtual bool live() const = 0;
  // Whether the frame comes into being during read (a live stream's frame
  // arriving), so its capture time is when read returns; a stored or drawn
  // frame (a file, the synthetic camera) is captured when due, and its
  // decoding or drawing counts.
  [[nodiscard]] virtual bool captured_by_read() const { return live(); }
};

// Opens the camera's source; the message says what failed and what to do.
[[nodiscard]] std::expected<std::unique_ptr<FrameSource>, std::string> open_source(const config::CameraConfig& camera);

}  // namespace shmyolo::ingest
