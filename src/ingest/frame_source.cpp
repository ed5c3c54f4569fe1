#include <shmyolo/ingest/frame_source.hpp>

#include <algorithm>
#include <vector>

#include <fmt/format.h>
#include <opencv2/videoio.hpp>
#include <shmyolo/image/image_file.hpp>
#include <shmyolo/ingest/synthetic_camera.hpp>

#include "ffmpeg_source.hpp"

namespace shmyolo::ingest {
namespace {

constexpr double kSyntheticFps = 10;    // the synthetic camera's rate when the config sets none
constexpr int kStreamTimeoutMs = 5000;  // open and read timeouts for network streams

class SyntheticSource final : public FrameSource {
 public:
  SyntheticSource(const config::CameraConfig& c, const config::SyntheticSource& s)
      : FrameSource(c),
        camera_({.width = s.width,
                 .height = s.height,
                 .seed = s.seed,
                 .min_objects = s.min_objects,
                 .max_objects = s.max_objects}),
        buffer_(s.height, s.width, CV_8UC3) {}

  ReadStatus next(std::string& /*error*/) override {
    camera_.render(index_++, buffer_.data, buffer_.step, truth_);
    return ReadStatus::frame;
  }
  cv::Mat picture() override { return buffer_; }
  [[nodiscard]] double native_fps() const override { return kSyntheticFps; }
  [[nodiscard]] bool live() const override { return false; }
  [[nodiscard]] DecodeCounts decode_counts() const override { return {.decoded = index_}; }

 private:
  SyntheticCamera camera_;
  cv::Mat buffer_;
  std::vector<GroundTruth> truth_;
  std::uint64_t index_ = 0;
};

class CaptureSource final : public FrameSource {
 public:
  // `named`: the source as messages show it (a stream's password masked).
  CaptureSource(const config::CameraConfig& c, std::string named, bool live)
      : FrameSource(c), named_(std::move(named)), live_(live), loop_(c.loop) {}

  cv::VideoCapture& capture() { return capture_; }

  ReadStatus next(std::string& error) override {
    if (capture_.read(frame_) && !frame_.empty()) return decoded();
    if (!live_ && frames_ > 0 && loop_) {
      // The file's time goes on across loops, so real-time play does not jump back.
      looped_s_ += static_cast<double>(frames_) / std::max(native_fps(), 1.0);
      capture_.set(cv::CAP_PROP_POS_FRAMES, 0);
      frames_ = 0;
      if (capture_.read(frame_) && !frame_.empty()) return decoded();
    }
    if (!live_ && frames_ > 0) return ReadStatus::end;
    error = live_ ? fmt::format("{} stopped delivering frames", named_)
                  : fmt::format("{} has no frame that can be decoded", named_);
    return ReadStatus::error;
  }
  [[nodiscard]] double native_fps() const override {
    const double fps = capture_.get(cv::CAP_PROP_FPS);
    return fps > 0 && fps < 1000 ? fps : 0;
  }
  [[nodiscard]] bool live() const override { return live_; }
  cv::Mat picture() override { return frame_; }
  [[nodiscard]] std::optional<double> frame_time() const override {
    const double ms = capture_.get(cv::CAP_PROP_POS_MSEC);
    return ms >= 0 ? std::optional(looped_s_ + ms / 1000) : std::nullopt;
  }
  [[nodiscard]] DecodeCounts decode_counts() const override { return {.decoded = decoded_}; }

 private:
  ReadStatus decoded() {
    ++frames_;
    ++decoded_;
    return ReadStatus::frame;
  }

  mutable cv::VideoCapture capture_;
  cv::Mat frame_;
  std::string named_;
  bool live_;
  bool loop_;
  std::uint64_t frames_ = 0;
  std::uint64_t decoded_ = 0;
  double looped_s_ = 0;
};

class FolderSource final : public FrameSource {
 public:
  FolderSource(const config::CameraConfig& c, std::vector<std::filesystem::path> files)
      : FrameSource(c), files_(std::move(files)), loop_(c.loop) {}

  ReadStatus next(std::string& error) override {
    while (true) {
      if (next_ == files_.size()) {
        if (!loop_) return ReadStatus::end;
        next_ = 0;
      }
      auto image = image::load(files_[next_++]);
      if (image) {
        frame_ = *image;
        ++decoded_;
        return ReadStatus::frame;
      }
      // A broken file is reported and skipped; the folder goes on.
      error = image.error().message;
      if (next_ == files_.size() && !loop_) return ReadStatus::end;
      return ReadStatus::error;
    }
  }
  cv::Mat picture() override { return frame_; }
  [[nodiscard]] double native_fps() const override { return 0; }
  [[nodiscard]] bool live() const override { return false; }
  [[nodiscard]] DecodeCounts decode_counts() const override { return {.decoded = decoded_}; }

 private:
  std::vector<std::filesystem::path> files_;
  cv::Mat frame_;
  std::uint64_t decoded_ = 0;
  bool loop_;
  std::size_t next_ = 0;
};

bool is_image_file(const std::filesystem::path& p) {
  std::string ext = p.extension().string();
  std::ranges::transform(ext, ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp";
}

std::expected<std::unique_ptr<FrameSource>, std::string> open_folder(const config::CameraConfig& c) {
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(c.location, ec)) {
    if (e.is_regular_file() && is_image_file(e.path())) files.push_back(e.path());
  }
  if (ec) return std::unexpected(fmt::format("cannot read folder {}: {}", c.location, ec.message()));
  if (files.empty()) return std::unexpected(fmt::format("folder {} has no .jpg, .png or .bmp files", c.location));
  std::ranges::sort(files);
  return std::make_unique<FolderSource>(c, std::move(files));
}

std::expected<std::unique_ptr<FrameSource>, std::string> open_capture(const config::CameraConfig& c) {
  const bool live = c.kind != config::SourceKind::video_file;
  std::error_code ec;  // a name the file system refuses (too long) is no file, not an exception
  if (c.kind == config::SourceKind::video_file && !std::filesystem::is_regular_file(c.location, ec)) {
    return std::unexpected(fmt::format("no video file at {}: check the path", c.location));
  }
  const int api = c.kind == config::SourceKind::device ? cv::CAP_V4L2 : cv::CAP_FFMPEG;
  std::vector<int> params;
  if (c.kind == config::SourceKind::stream) {
    params = {cv::CAP_PROP_OPEN_TIMEOUT_MSEC, kStreamTimeoutMs, cv::CAP_PROP_READ_TIMEOUT_MSEC, kStreamTimeoutMs};
  }
  // A stream's URL may hold a password: messages name it masked. A file's
  // full path stays, for the operator reading the log on this host.
  const std::string& named = c.kind == config::SourceKind::stream ? c.shown : c.location;
  auto source = std::make_unique<CaptureSource>(c, named, live);
  if (!source->capture().open(c.location, api, params) || !source->capture().isOpened()) {
    switch (c.kind) {
      case config::SourceKind::stream:
        return std::unexpected(fmt::format("cannot open stream {}: is it up and reachable from here?", named));
      case config::SourceKind::device:
        return std::unexpected(
            fmt::format("cannot open camera {}: is it plugged in, and may this user read it?", c.location));
      default:
        return std::unexpected(
            fmt::format("cannot decode {}: not a video OpenCV's FFmpeg back end can read", c.location));
    }
  }
  return source;
}

}  // namespace

ReadStatus FrameSource::read(cv::Mat& frame, std::string& error) {
  ReadStatus got = ReadStatus::pending;
  while (got == ReadStatus::pending) got = next(error);
  if (got == ReadStatus::frame) frame = picture();
  return got;
}

std::expected<Placed, std::string> FrameSource::place(const SlotPixels& slot, const detect::Preprocessing& p) {
  return place_picture(picture(), slot, p);
}

std::expected<Placed, std::string> FrameSource::place_picture(const cv::Mat& frame, const SlotPixels& slot,
                                                              const detect::Preprocessing& p) {
  auto picture = corrections_.apply(frame);
  if (!picture) return std::unexpected(picture.error());
  const auto t = letterbox_into_slot(
      {.data = picture->data, .width = picture->cols, .height = picture->rows, .stride = picture->step}, slot, p);
  return Placed{.transform = t, .source = frame.size(), .crop = crop_corner(), .picture = picture->size()};
}

std::expected<std::unique_ptr<FrameSource>, std::string> open_source(const config::CameraConfig& camera,
                                                                     bool (*interrupted)()) {
  switch (camera.kind) {
    case config::SourceKind::synthetic: return std::make_unique<SyntheticSource>(camera, camera.synthetic);
    case config::SourceKind::image_folder: return open_folder(camera);
    default:
      if (config::decoder_of(camera) == config::Decoder::ffmpeg) return open_ffmpeg(camera, interrupted);
      return open_capture(camera);
  }
}

}  // namespace shmyolo::ingest
