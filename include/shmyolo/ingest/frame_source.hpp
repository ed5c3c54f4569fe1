// Where a camera's frames come from: video files and network streams through
// FFmpeg's libraries (ffmpeg_source.cpp) or OpenCV's capture, V4L2 devices
// through OpenCV, image folders, and the synthetic camera. Each frame is
// decoded once, here; `place` then writes it, corrected and letterboxed,
// straight into a slot. Decoding and placing are separate steps so the ingest
// can decode a frame (a later one depends on it) and still skip placing it.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string>

#include <opencv2/core.hpp>
#include <shmyolo/config/pipeline_config.hpp>
#include <shmyolo/ingest/corrections.hpp>
#include <shmyolo/ingest/slot_letterbox.hpp>

namespace shmyolo::ingest {

enum class ReadStatus {
  frame,    // a frame was decoded: place() or picture() gives it
  pending,  // none yet (frames passed over for half a second, key frames only): call again
  end,      // a file or folder has no more frames (and does not loop)
  error,    // the source failed (stream down, device unplugged): reopen after a pause
};

// Where a placed frame came from, for its frame record: the letterbox's own
// placement, the full (undistorted) frame's size, and the part of it that
// was letterboxed (the region of interest).
struct Placed {
  detect::LetterboxTransform transform;
  cv::Size source;
  cv::Point crop;
  cv::Size picture;
};

// What decoding steps a source skipped or did, since it opened.
struct DecodeCounts {
  std::uint64_t decoded = 0;      // frames the decoder produced
  std::uint64_t not_decoded = 0;  // frames passed over undecoded (key frames only; non-reference frames beyond the cap)
};

class FrameSource {
 public:
  explicit FrameSource(const config::CameraConfig& camera) : corrections_(camera) {}
  virtual ~FrameSource() = default;
  FrameSource(const FrameSource&) = delete;
  FrameSource& operator=(const FrameSource&) = delete;

  // Decodes the next frame; it stays current until the next call.
  virtual ReadStatus next(std::string& error) = 0;
  // The current frame, full size, in the source's colour order before the
  // corrections; may point into the source's buffers until the next call.
  virtual cv::Mat picture() = 0;
  // The current frame corrected and letterboxed into `slot`, or a message
  // when it cannot be (an ROI outside it). By default the corrections run on
  // picture(); the FFmpeg source scales from the decoder's own pixels.
  virtual std::expected<Placed, std::string> place(const SlotPixels& slot, const detect::Preprocessing& p);

  // Frames per second the source runs at by itself; 0 when it has no rate.
  [[nodiscard]] virtual double native_fps() const = 0;
  // A live source paces itself (a camera, a stream, a file played in real
  // time); a file or a folder is read as fast as it is asked.
  [[nodiscard]] virtual bool live() const = 0;
  // Whether the frame comes into being during next() (a live stream's frame
  // arriving), so its capture time is when next() returns; a stored or drawn
  // frame (a file, the synthetic camera) is captured when due, and its
  // decoding or drawing counts.
  [[nodiscard]] virtual bool captured_by_read() const { return live(); }
  // The current frame's time in seconds from the source's start (a file's
  // presentation time, growing across loops); nullopt when unknown.
  [[nodiscard]] virtual std::optional<double> frame_time() const { return std::nullopt; }

  // Decode steering, for sources whose decoder can skip work (FFmpeg):
  // whether it can decode key frames only, and the requests themselves.
  [[nodiscard]] virtual bool can_skip_decoding() const { return false; }
  // Only key frames from now on; back to every frame from the next key frame.
  virtual void keyframes_only(bool /*on*/) {}
  // The next frame will not be used: a non-reference frame need not be decoded.
  virtual void next_unused(bool /*unused*/) {}
  // Whether the current frame is a key frame (false where the source cannot tell).
  [[nodiscard]] virtual bool key_frame() const { return false; }
  [[nodiscard]] virtual DecodeCounts decode_counts() const = 0;

  // next() and picture() together (benchmarks, tools).
  ReadStatus read(cv::Mat& frame, std::string& error);

 protected:
  // The corrections and the letterbox on a picture (the default place()).
  std::expected<Placed, std::string> place_picture(const cv::Mat& frame, const SlotPixels& slot,
                                                   const detect::Preprocessing& p);
  // The region of interest's corner, so boxes land in full-frame pixels.
  [[nodiscard]] cv::Point crop_corner() const {
    const auto& r = roi();
    return r ? cv::Point(r->x, r->y) : cv::Point();
  }
  [[nodiscard]] const std::optional<config::Roi>& roi() const { return corrections_.roi(); }

 private:
  Corrections corrections_;
};

// Opens the camera's source; the message says what failed and what to do.
// `interrupted` is asked while a network source blocks (opening, reading),
// so a stop is not held up by an unresponsive stream.
[[nodiscard]] std::expected<std::unique_ptr<FrameSource>, std::string> open_source(const config::CameraConfig& camera,
                                                                                   bool (*interrupted)() = nullptr);

}  // namespace shmyolo::ingest
