#include "ffmpeg_source.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <mutex>

#include <fmt/format.h>
#include <opencv2/imgproc.hpp>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

#include "exact_conversion.hpp"

namespace shmyolo::ingest {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kStreamTimeout = std::chrono::seconds(5);  // open and read timeouts for network streams
// Undecodable packets in a row before a stream counts as broken and is
// reopened: about 4 s of a 30 fps stream, longer than a glitch.
constexpr int kMaxBadPackets = 120;

// Packets waited for a key frame at the start before decoding anyway: a
// stream without key frames (intra refresh) still shows, with smears.
constexpr int kMaxKeyWait = 300;
// The longest next() passes over frames before it returns `pending`: well
// within the ring's 3 s staleness.
constexpr auto kLongestPassOver = std::chrono::milliseconds(500);

struct FormatClose {
  void operator()(AVFormatContext* f) const { avformat_close_input(&f); }
};
struct CodecFree {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct FrameFree {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct PacketFree {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct ScalerFree {
  void operator()(SwsContext* s) const { sws_freeContext(s); }
};

std::string av_error(int code) {
  std::array<char, AV_ERROR_MAX_STRING_SIZE> text{};
  av_strerror(code, text.data(), text.size());
  return text.data();
}

// FFmpeg's own log is silenced (it would print per damaged macroblock); its
// last error line is kept, so a file's one-line message can say why
// ("moov atom not found").
thread_local std::string last_log_error;

void keep_errors(void* /*avcl*/, int level, const char* format, va_list args) {
  if (level > AV_LOG_ERROR) return;
  std::array<char, 512> line{};
  int prefix = 0;
  va_list copy;
  va_copy(copy, args);
  av_log_format_line2(nullptr, level, format, copy, line.data(), line.size(), &prefix);
  va_end(copy);
  std::string text = line.data();
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (!text.empty()) last_log_error = std::move(text);
}

void quiet_ffmpeg_log() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_callback(keep_errors); });
}

class FfmpegSource final : public FrameSource {
 public:
  FfmpegSource(const config::CameraConfig& c, bool (*interrupted)())
      : FrameSource(c),
        named_(c.kind == config::SourceKind::stream ? c.shown : c.location),
        live_(c.kind == config::SourceKind::stream),
        loop_(c.loop),
        direct_(!c.undistort && c.color == config::SourceColor::bgr),
        interrupted_(interrupted),
        frame_(av_frame_alloc()),
        packet_(av_packet_alloc()) {}

  std::expected<void, std::string> open(const config::CameraConfig& c);

  ReadStatus next(std::string& error) override;
  cv::Mat picture() override;
  std::expected<Placed, std::string> place(const SlotPixels& slot, const detect::Preprocessing& p) override;

  [[nodiscard]] double native_fps() const override {
    const AVStream* s = format_->streams[stream_];
    const AVRational rate = s->avg_frame_rate.num > 0 ? s->avg_frame_rate : s->r_frame_rate;
    const double fps = rate.den > 0 ? av_q2d(rate) : 0;
    return fps > 0 && fps < 1000 ? fps : 0;
  }
  [[nodiscard]] bool live() const override { return live_; }
  [[nodiscard]] std::optional<double> frame_time() const override { return frame_time_; }
  [[nodiscard]] bool can_skip_decoding() const override { return true; }
  void keyframes_only(bool on) override {
    // Back to every frame: at once if no packet was passed over since the
    // last one decoded (a key frame), else from the next key frame, the
    // first whose references are all decoded.
    if (keyframes_only_ && !on) need_key_ = passed_since_sent_;
    keyframes_only_ = on;
  }
  void next_unused(bool unused) override { next_unused_ = unused; }
  [[nodiscard]] bool key_frame() const override { return frame_->key_frame != 0; }
  [[nodiscard]] DecodeCounts decode_counts() const override {
    // Packets sent but never come out as frames: the non-reference frames
    // the decoder discarded (less the frames still held for reordering,
    // none once the file's end has drained them).
    const std::int64_t held = codec_ && !draining_ ? std::max(codec_->has_b_frames, 0) : 0;
    const auto discarded = static_cast<std::uint64_t>(
        std::max<std::int64_t>(0, static_cast<std::int64_t>(sent_) - static_cast<std::int64_t>(decoded_) - held));
    return {.decoded = decoded_, .not_decoded = passed_over_ + discarded};
  }

 private:
  static int interrupt(void* self);
  void arm_deadline() { deadline_ = Clock::now() + kStreamTimeout; }
  [[nodiscard]] std::string open_error(int code) const;
  ReadStatus read_packet(std::string& error);
  ReadStatus restart(std::string& error);
  void send_packet();
  [[nodiscard]] std::optional<double> time_of(const AVFrame& f);
  SwsContext* scaler(int width, int height, int out_width, int out_height);
  [[nodiscard]] bool even_corner(const AVPixFmtDescriptor& desc) const;
  // YUV 4:2:0 (what H.264 and most codecs decode to) or 4:2:2 (MJPEG):
  // the three planes resized (cv::resize, INTER_LINEAR) to the output's
  // size, stretched to full range where they are of limited range, and
  // converted by OpenCV's YCrCb conversion into the slot; false for other
  // formats.
  bool place_planes(YuvLayout yuv, const std::array<const std::uint8_t*, 4>& planes, const cv::Rect& crop,
                    const detect::LetterboxTransform& t, std::uint8_t* out, std::size_t stride);
  // YUV 4:2:0 or 4:2:2 at a whole-number scale (1080p into 640 or 320) or
  // where the picture shrinks little (640x480 into 640): the OpenCV path's
  // very pixels (exact_conversion.hpp); false elsewhere.
  bool place_exact(YuvLayout yuv, const std::array<const std::uint8_t*, 4>& planes, const cv::Rect& crop,
                   const detect::LetterboxTransform& t, std::uint8_t* out, std::size_t stride);

  std::string named_;  // the source as messages show it (a stream's password masked)
  bool live_;
  bool loop_;
  bool direct_;  // no undistortion or colour option: scale straight into the slot
  bool (*interrupted_)();
  Clock::time_point deadline_ = Clock::time_point::max();
  std::unique_ptr<AVFormatContext, FormatClose> format_;
  std::unique_ptr<AVCodecContext, CodecFree> codec_;
  std::unique_ptr<AVFrame, FrameFree> frame_;
  std::unique_ptr<AVPacket, PacketFree> packet_;
  std::unique_ptr<SwsContext, ScalerFree> scaler_;
  cv::Mat bgr_;                    // picture(): the slower path's full-size frame
  std::array<cv::Mat, 3> planes_;  // place_planes's Y, Cr and Cb at the output's size
  cv::Mat ycrcb_;                  // ... stretched to full range, interleaved
  ExactConversion exact_;
  int stream_ = -1;
  bool draining_ = false;           // the file ended: the decoder gives its last frames
  bool keyframes_only_ = false;     // decode key frames only
  bool need_key_ = true;            // skip to the next key frame (at the start, and after key frames only)
  bool next_unused_ = false;        // the next frame will not be used
  bool passed_since_sent_ = false;  // a packet was passed over since the last one decoded
  int bad_packets_ = 0;             // undecodable packets in a row
  int key_wait_ = 0;                // packets skipped waiting for the first key frame
  std::uint64_t decoded_ = 0;
  std::uint64_t sent_ = 0;
  std::uint64_t passed_over_ = 0;
  std::uint64_t frames_this_pass_ = 0;  // since the file's start or its last loop
  double pass_start_s_ = 0;             // the file's time at which this pass started (loops add up)
  double pass_end_s_ = 0;               // the latest frame's end in this pass
  std::optional<double> frame_time_;
};

int FfmpegSource::interrupt(void* self) {
  const auto* s = static_cast<const FfmpegSource*>(self);
  if (s->interrupted_ != nullptr && s->interrupted_()) return 1;
  return Clock::now() > s->deadline_ ? 1 : 0;
}

std::string FfmpegSource::open_error(int code) const {
  if (live_) {
    return fmt::format("cannot open stream {} ({}): is it up and reachable from here?", named_,
                       code == AVERROR_EXIT ? "no answer in 5 s" : av_error(code));
  }
  const std::string why = last_log_error.empty() ? av_error(code) : last_log_error;
  return fmt::format("cannot decode {}: {}: not a video FFmpeg can read (a damaged or unfinished file?)", named_, why);
}

std::expected<void, std::string> FfmpegSource::open(const config::CameraConfig& c) {
  quiet_ffmpeg_log();
  last_log_error.clear();
  AVFormatContext* raw = avformat_alloc_context();
  if (raw == nullptr) return std::unexpected("out of memory opening " + named_);
  raw->interrupt_callback = {.callback = &FfmpegSource::interrupt, .opaque = this};
  AVDictionary* options = nullptr;
  // RTSP over TCP: UDP loses packets, and a lost packet smears every frame
  // up to the next key frame. Frigate makes the same choice.
  if (c.location.starts_with("rtsp")) av_dict_set(&options, "rtsp_transport", "tcp", 0);
  arm_deadline();
  int rc = avformat_open_input(&raw, c.location.c_str(), nullptr, &options);  // frees raw on failure
  av_dict_free(&options);
  if (rc < 0) return std::unexpected(open_error(rc));
  format_.reset(raw);
  arm_deadline();
  rc = avformat_find_stream_info(raw, nullptr);
  if (rc < 0) return std::unexpected(open_error(rc));
  const AVCodec* decoder = nullptr;
  stream_ = av_find_best_stream(raw, AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0);
  if (stream_ < 0 || decoder == nullptr) {
    return std::unexpected(fmt::format("{} has no video stream FFmpeg can decode", named_));
  }
  for (unsigned i = 0; i < raw->nb_streams; ++i) {
    if (static_cast<int>(i) != stream_) raw->streams[i]->discard = AVDISCARD_ALL;  // audio: not even demuxed
  }
  codec_.reset(avcodec_alloc_context3(decoder));
  if (!codec_ || avcodec_parameters_to_context(codec_.get(), raw->streams[stream_]->codecpar) < 0) {
    return std::unexpected("out of memory opening " + named_);
  }
  // One thread per camera: cameras run in parallel as processes, and frame
  // threads would add a frame of delay each.
  codec_->thread_count = 1;
  rc = avcodec_open2(codec_.get(), decoder, nullptr);
  if (rc < 0) {
    return std::unexpected(
        fmt::format("cannot decode {}: the {} decoder refused it ({})", named_, decoder->name, av_error(rc)));
  }
  return {};
}

ReadStatus FfmpegSource::next(std::string& error) {
  const auto since = Clock::now();
  while (true) {
    const int rc = avcodec_receive_frame(codec_.get(), frame_.get());
    if (rc == 0) {
      ++decoded_;
      ++frames_this_pass_;
      frame_time_ = time_of(*frame_);
      return ReadStatus::frame;
    }
    if (rc == AVERROR_EOF) return restart(error);
    if (rc != AVERROR(EAGAIN)) {
      error = fmt::format("{}: the decoder failed ({})", named_, av_error(rc));
      return ReadStatus::error;
    }
    const ReadStatus got = read_packet(error);
    if (got != ReadStatus::frame) return got;
    // Passing over a long key-frame interval: come back to the caller now
    // and then, so it can beat the ring's heartbeat and see a stop.
    if (Clock::now() - since > kLongestPassOver) return ReadStatus::pending;
  }
}

// Reads one packet of the video stream into the decoder (or passes over it);
// `frame` when the caller should ask the decoder again.
ReadStatus FfmpegSource::read_packet(std::string& error) {
  if (draining_) return ReadStatus::frame;  // the decoder was sent its end: it answers EOF at last
  arm_deadline();
  const int rc = av_read_frame(format_.get(), packet_.get());
  // Stopped while it waited (key frames only can pass over packets for half
  // a second in one call): no fault of the source; the caller sees the stop.
  if (rc == AVERROR_EXIT && interrupted_ != nullptr && interrupted_()) return ReadStatus::pending;
  // A file that cannot be read on ends there (a damaged or still-growing
  // file): its frames so far were shown, and a reopen would repeat them.
  if (rc < 0 && rc != AVERROR_EXIT && !live_) {
    avcodec_send_packet(codec_.get(), nullptr);  // drain: the frames the decoder still holds
    draining_ = true;
    return ReadStatus::frame;
  }
  if (rc < 0) {
    error =
        fmt::format("{} stopped delivering frames ({})", named_, rc == AVERROR_EXIT ? "nothing for 5 s" : av_error(rc));
    return ReadStatus::error;
  }
  if (packet_->stream_index == stream_) send_packet();
  av_packet_unref(packet_.get());
  if (bad_packets_ > kMaxBadPackets) {
    error = fmt::format("{} sends data the {} decoder cannot decode ({} packets in a row)", named_, codec_->codec->name,
                        bad_packets_);
    bad_packets_ = 0;
    return ReadStatus::error;
  }
  return ReadStatus::frame;
}

void FfmpegSource::send_packet() {
  const bool key = (packet_->flags & AV_PKT_FLAG_KEY) != 0;
  if (need_key_ && !key && ++key_wait_ > kMaxKeyWait) need_key_ = false;  // no key frames at all: decode anyway
  if (!key && (keyframes_only_ || need_key_)) {
    ++passed_over_;
    passed_since_sent_ = true;
    return;
  }
  if (key) need_key_ = false;
  // A frame nobody will use need not be decoded if no other frame refers to it.
  codec_->skip_frame = next_unused_ && !key ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
  const int rc = avcodec_send_packet(codec_.get(), packet_.get());
  if (rc < 0) {
    // A damaged packet: skip to the next key frame, whose picture is whole.
    ++bad_packets_;
    ++passed_over_;
    need_key_ = true;
    passed_since_sent_ = true;
    return;
  }
  bad_packets_ = 0;
  passed_since_sent_ = false;
  ++sent_;
}

// The file ended: loop, end, or fail if it never gave a frame.
ReadStatus FfmpegSource::restart(std::string& error) {
  if (frames_this_pass_ == 0) {
    error = fmt::format("{} has no frame that can be decoded", named_);
    return ReadStatus::error;
  }
  if (!loop_ || live_) return ReadStatus::end;
  pass_start_s_ = pass_end_s_;
  frames_this_pass_ = 0;
  draining_ = false;
  need_key_ = true;
  const int rc =
      av_seek_frame(format_.get(), stream_,
                    format_->streams[stream_]->start_time == AV_NOPTS_VALUE ? 0 : format_->streams[stream_]->start_time,
                    AVSEEK_FLAG_BACKWARD);
  if (rc < 0) {
    error = fmt::format("{}: cannot go back to the start to loop ({})", named_, av_error(rc));
    return ReadStatus::error;
  }
  avcodec_flush_buffers(codec_.get());
  return next(error);
}

std::optional<double> FfmpegSource::time_of(const AVFrame& f) {
  const AVStream* s = format_->streams[stream_];
  if (f.best_effort_timestamp == AV_NOPTS_VALUE) return std::nullopt;
  const std::int64_t start = s->start_time == AV_NOPTS_VALUE ? 0 : s->start_time;
  const double t = static_cast<double>(f.best_effort_timestamp - start) * av_q2d(s->time_base);
  const double fps = native_fps();
  pass_end_s_ = std::max(pass_end_s_, pass_start_s_ + t + (fps > 0 ? 1 / fps : 0));
  return pass_start_s_ + t;
}

// swscale with the flags OpenCV's FFmpeg back end uses (bicubic) and its
// colour defaults (BT.601; full range for the JPEG formats), so a picture
// comes out as OpenCV's capture would make it: the colours models were
// trained on when their frames were read by OpenCV.
SwsContext* FfmpegSource::scaler(int width, int height, int out_width, int out_height) {
  scaler_.reset(sws_getCachedContext(scaler_.release(), width, height, static_cast<AVPixelFormat>(frame_->format),
                                     out_width, out_height, AV_PIX_FMT_BGR24, SWS_BICUBIC, nullptr, nullptr, nullptr));
  return scaler_.get();
}

cv::Mat FfmpegSource::picture() {
  bgr_.create(frame_->height, frame_->width, CV_8UC3);
  SwsContext* s = scaler(frame_->width, frame_->height, frame_->width, frame_->height);
  if (s == nullptr) return {};
  std::array<std::uint8_t*, 4> out{bgr_.data, nullptr, nullptr, nullptr};
  std::array<int, 4> out_stride{static_cast<int>(bgr_.step), 0, 0, 0};
  sws_scale(s, frame_->data, frame_->linesize, 0, frame_->height, out.data(), out_stride.data());
  return bgr_;
}

bool FfmpegSource::place_planes(YuvLayout yuv, const std::array<const std::uint8_t*, 4>& planes, const cv::Rect& crop,
                                const detect::LetterboxTransform& t, std::uint8_t* out, std::size_t stride) {
  if (!yuv.full_range && frame_->color_range == AVCOL_RANGE_JPEG) return false;
  const cv::Size size(t.resized_width, t.resized_height);
  // const_cast: OpenCV's Mat has no read-only view; the planes are only read.
  const auto plane = [&](int i, int rows, int cols) {
    return cv::Mat(rows, cols, CV_8UC1, const_cast<std::uint8_t*>(planes.at(static_cast<std::size_t>(i))),
                   static_cast<std::size_t>(frame_->linesize[i]));
  };
  const int chroma_w = (crop.width + 1) >> 1;  // the crop's corner is even: see even_corner
  const int chroma_h = (crop.height + yuv.chroma_shift) >> yuv.chroma_shift;
  // Luma and both chroma planes resized to the output's size: each output
  // pixel gets its own chroma, as when the full-size picture is converted
  // first and then resized (chroma at half the output's size would blur
  // colour edges, and the boxes of coloured objects with them).
  cv::resize(plane(0, crop.height, crop.width), planes_[0], size, 0, 0, cv::INTER_LINEAR);
  cv::resize(plane(2, chroma_h, chroma_w), planes_[1], size, 0, 0, cv::INTER_LINEAR);  // Cr (V)
  cv::resize(plane(1, chroma_h, chroma_w), planes_[2], size, 0, 0, cv::INTER_LINEAR);  // Cb (U)
  // Limited range (luma 16-235, chroma 16-240) stretched to full range, so
  // OpenCV's YCrCb conversion (JPEG's BT.601 of full range) computes what
  // swscale's BT.601 conversion of limited range does, as OpenCV's capture
  // converts: the same coefficients, stretched (1.164 = 255/219 for luma,
  // 1.596 = 1.402 x 255/224 for chroma). Full range is JPEG's already.
  if (!yuv.full_range) {
    constexpr double kLuma = 255.0 / 219;
    constexpr double kChroma = 255.0 / 224;
    planes_[0].convertTo(planes_[0], CV_8U, kLuma, -16 * kLuma);
    planes_[1].convertTo(planes_[1], CV_8U, kChroma, 128 - 128 * kChroma);
    planes_[2].convertTo(planes_[2], CV_8U, kChroma, 128 - 128 * kChroma);
  }
  cv::merge(planes_.data(), planes_.size(), ycrcb_);
  cv::Mat slot_view(size, CV_8UC3, out, stride);  // the slot's pixels: cvtColor writes there, no reallocation
  cv::cvtColor(ycrcb_, slot_view, cv::COLOR_YCrCb2BGR);
  return true;
}

// Only where the full picture's height is even: the OpenCV path's
// conversion of an odd one is swscale's general one, not the conversion
// these ways use.
bool FfmpegSource::place_exact(YuvLayout yuv, const std::array<const std::uint8_t*, 4>& planes, const cv::Rect& crop,
                               const detect::LetterboxTransform& t, std::uint8_t* out, std::size_t stride) {
  if (frame_->height % 2 != 0) return false;
  return exact_.place({.planes = {planes[0], planes[1], planes[2]},
                       .strides = {frame_->linesize[0], frame_->linesize[1], frame_->linesize[2]},
                       .size = crop.size(),
                       .layout = yuv},
                      cv::Size(t.resized_width, t.resized_height), out, stride);
}

// A region of interest whose corner falls between chroma samples (an odd x
// or y in 4:2:0) would start its colours half a sample off: such a crop
// takes the exact path through a full-size picture.
bool FfmpegSource::even_corner(const AVPixFmtDescriptor& desc) const {
  const auto& r = roi();
  if (!r) return true;
  return (r->x & ((1 << desc.log2_chroma_w) - 1)) == 0 && (r->y & ((1 << desc.log2_chroma_h) - 1)) == 0;
}

std::expected<Placed, std::string> FfmpegSource::place(const SlotPixels& slot, const detect::Preprocessing& p) {
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(frame_->format));
  // Formats whose planes can be cropped by moving their pointers: planar
  // ones, and packed ones without subsampling.
  const bool croppable = desc != nullptr &&
                         (desc->flags & (AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_BITSTREAM)) == 0 &&
                         ((desc->flags & AV_PIX_FMT_FLAG_PLANAR) != 0 || desc->log2_chroma_w == 0);
  if (!direct_ || !croppable || !even_corner(*desc)) return place_picture(picture(), slot, p);
  const cv::Size full(frame_->width, frame_->height);
  cv::Rect crop(0, 0, full.width, full.height);
  if (const auto& r = roi(); r) {
    if (r->x + r->width > full.width || r->y + r->height > full.height) {
      return std::unexpected(fmt::format("roi {}x{} at ({}, {}) does not fit in the {}x{} frame: fix cameras.roi",
                                         r->width, r->height, r->x, r->y, full.width, full.height));
    }
    crop = cv::Rect(r->x, r->y, r->width, r->height);
  }
  std::array<const std::uint8_t*, 4> planes{};
  for (int i = 0; i < 4 && frame_->data[i] != nullptr; ++i) {
    // Plane i's pixel step and subsampling, as av_frame_apply_cropping finds them.
    int step = 0;
    for (int c = 0; c < desc->nb_components; ++c) {
      if (desc->comp[c].plane == i) step = std::max(step, desc->comp[c].step);
    }
    const bool chroma = (desc->flags & AV_PIX_FMT_FLAG_RGB) == 0 && (i == 1 || i == 2);
    const int x = chroma ? crop.x >> desc->log2_chroma_w : crop.x;
    const int y = chroma ? crop.y >> desc->log2_chroma_h : crop.y;
    planes.at(static_cast<std::size_t>(i)) =
        frame_->data[i] + static_cast<std::ptrdiff_t>(y) * frame_->linesize[i] + static_cast<std::ptrdiff_t>(x) * step;
  }
  const auto t = detect::plan_letterbox(crop.width, crop.height, slot.width, slot.height, p);
  std::uint8_t* inner =
      slot.data + static_cast<std::size_t>(t.pad_y) * slot.stride + static_cast<std::size_t>(t.pad_x) * 3;
  const auto yuv = yuv_layout(frame_->format);
  const bool placed = yuv && (place_exact(*yuv, planes, crop, t, inner, slot.stride) ||
                              place_planes(*yuv, planes, crop, t, inner, slot.stride));
  if (!placed) {
    SwsContext* s = scaler(crop.width, crop.height, t.resized_width, t.resized_height);
    if (s == nullptr) return place_picture(picture(), slot, p);
    std::array<std::uint8_t*, 4> out{inner, nullptr, nullptr, nullptr};
    std::array<int, 4> out_stride{static_cast<int>(slot.stride), 0, 0, 0};
    sws_scale(s, planes.data(), frame_->linesize, 0, crop.height, out.data(), out_stride.data());
  }
  fill_padding(slot, t, p.pad_value);
  return Placed{.transform = t, .source = full, .crop = crop.tl(), .picture = crop.size()};
}

}  // namespace

std::expected<std::unique_ptr<FrameSource>, std::string> open_ffmpeg(const config::CameraConfig& camera,
                                                                     bool (*interrupted)()) {
  std::error_code ec;  // a name the file system refuses (too long) is no file, not an exception
  if (camera.kind == config::SourceKind::video_file && !std::filesystem::is_regular_file(camera.location, ec)) {
    return std::unexpected(fmt::format("no video file at {}: check the path", camera.location));
  }
  auto source = std::make_unique<FfmpegSource>(camera, interrupted);
  if (auto opened = source->open(camera); !opened) return std::unexpected(opened.error());
  return source;
}

}  // namespace shmyolo::ingest
