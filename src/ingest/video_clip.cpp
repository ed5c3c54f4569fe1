#include <shmyolo/ingest/video_clip.hpp>

#include <algorithm>
#include <array>
#include <memory>
#include <vector>

#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <shmyolo/ingest/synthetic_camera.hpp>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

namespace shmyolo::ingest {
namespace {

std::string av_error(int code) {
  std::array<char, AV_ERROR_MAX_STRING_SIZE> text{};
  av_strerror(code, text.data(), text.size());
  return text.data();
}

struct Output {
  AVFormatContext* format = nullptr;
  AVCodecContext* codec = nullptr;
  AVFrame* frame = nullptr;
  AVPacket* packet = nullptr;
  SwsContext* scaler = nullptr;
  AVStream* stream = nullptr;
  bool opened = false;

  Output() = default;
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;
  ~Output() {
    sws_freeContext(scaler);
    av_packet_free(&packet);
    av_frame_free(&frame);
    avcodec_free_context(&codec);
    if (format != nullptr && opened) avio_closep(&format->pb);
    avformat_free_context(format);
  }
};

AVPixelFormat pixel_format(const ClipOptions& o) {
  if (o.codec == VideoCodec::mjpeg) return AV_PIX_FMT_YUVJ422P;
  return o.full_range ? AV_PIX_FMT_YUVJ420P : AV_PIX_FMT_YUV420P;
}

const char* encoder_name(VideoCodec codec) {
  switch (codec) {
    case VideoCodec::hevc: return "libx265";
    case VideoCodec::mjpeg: return "mjpeg";
    case VideoCodec::h264: break;
  }
  return "libx264";
}

// veryfast: a camera-like bitrate at a tolerable encode time; no scene-cut
// key frames, so key frames come exactly every keyint frames. x265 says its
// settings on stderr unless told not to, and opens its GOPs unless told not
// to (cameras close them: every key frame starts afresh).
void set_encoder_options(AVCodecContext& codec, VideoCodec kind) {
  if (kind == VideoCodec::mjpeg) return;
  av_opt_set(codec.priv_data, "preset", "veryfast", 0);
  if (kind == VideoCodec::h264) {
    av_opt_set(codec.priv_data, "x264-params", "scenecut=0", 0);
    return;
  }
  codec.flags |= AV_CODEC_FLAG_CLOSED_GOP;
  av_opt_set(codec.priv_data, "x265-params", "scenecut=0:log-level=error", 0);
}

std::expected<void, std::string> open_encoder(Output& out, const ClipOptions& o) {
  const char* name = encoder_name(o.codec);
  const AVCodec* encoder = avcodec_find_encoder_by_name(name);
  if (encoder == nullptr)
    return std::unexpected(fmt::format("this FFmpeg has no {} encoder (Debian's libavcodec59 has)", name));
  out.codec = avcodec_alloc_context3(encoder);
  out.codec->width = o.width;
  out.codec->height = o.height;
  out.codec->time_base = AVRational{1, o.fps};
  out.codec->framerate = AVRational{o.fps, 1};
  out.codec->pix_fmt = pixel_format(o);
  out.codec->color_range = o.full_range || o.codec == VideoCodec::mjpeg ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
  out.codec->gop_size = o.keyint;
  out.codec->keyint_min = o.keyint;
  out.codec->max_b_frames = o.bframes;
  // A camera's bitrate: 6 Mbit/s at 1080p30 (what IP cameras send by
  // default), in proportion for other sizes and rates. Without the cap the
  // synthetic sensor noise would be kept at about 50 Mbit/s, and decoding
  // would cost far more than a real camera's stream. HEVC gets the same, so the
  // two codecs compare at one bitrate (a camera set to HEVC may send less).
  const double pixels_per_s = static_cast<double>(o.width) * o.height * o.fps;
  const auto bitrate = static_cast<std::int64_t>(std::max(2e5, 6e6 * pixels_per_s / (1920.0 * 1080 * 30)));
  out.codec->bit_rate = bitrate;
  out.codec->rc_max_rate = bitrate;
  out.codec->rc_buffer_size = static_cast<int>(2 * bitrate);
  out.codec->thread_count = 0;  // writing the clip is set-up, not the measured part: every core
  if ((out.format->oformat->flags & AVFMT_GLOBALHEADER) != 0) out.codec->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  set_encoder_options(*out.codec, o.codec);
  if (const int rc = avcodec_open2(out.codec, encoder, nullptr); rc < 0) {
    return std::unexpected(fmt::format("{} refused {}x{} at {} fps: {}", name, o.width, o.height, o.fps, av_error(rc)));
  }
  out.stream = avformat_new_stream(out.format, nullptr);
  out.stream->time_base = out.codec->time_base;
  out.stream->avg_frame_rate = out.codec->framerate;
  avcodec_parameters_from_context(out.stream->codecpar, out.codec);
  return {};
}

// Sends a frame (nullptr: the end) and writes every packet the encoder gives.
std::expected<void, std::string> encode(Output& out, const AVFrame* frame) {
  int rc = avcodec_send_frame(out.codec, frame);
  while (rc >= 0) {
    rc = avcodec_receive_packet(out.codec, out.packet);
    if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return {};
    if (rc < 0) break;
    av_packet_rescale_ts(out.packet, out.codec->time_base, out.stream->time_base);
    out.packet->stream_index = out.stream->index;
    rc = av_interleaved_write_frame(out.format, out.packet);
  }
  return std::unexpected(fmt::format("encoding failed: {}", av_error(rc)));
}

}  // namespace

std::expected<void, std::string> write_synthetic_clip(const ClipOptions& o) {
  // Quiet: libx264 prints its settings and statistics, and FFmpeg its own
  // errors, which the one-line messages below say instead.
  av_log_set_level(AV_LOG_QUIET);
  Output out;
  const std::string path = o.path.string();
  if (avformat_alloc_output_context2(&out.format, nullptr, nullptr, path.c_str()) < 0 || out.format == nullptr) {
    return std::unexpected(fmt::format("cannot write {}: no container for its extension (use .mp4 or .mkv)", path));
  }
  if (auto opened = open_encoder(out, o); !opened) return opened;
  if (const int rc = avio_open(&out.format->pb, path.c_str(), AVIO_FLAG_WRITE); rc < 0) {
    return std::unexpected(fmt::format("cannot write {}: {}", path, av_error(rc)));
  }
  out.opened = true;
  if (const int rc = avformat_write_header(out.format, nullptr); rc < 0) {
    return std::unexpected(fmt::format("cannot write {}: {}", path, av_error(rc)));
  }
  out.frame = av_frame_alloc();
  out.packet = av_packet_alloc();
  out.frame->format = pixel_format(o);
  out.frame->width = o.width;
  out.frame->height = o.height;
  if (av_frame_get_buffer(out.frame, 0) < 0) return std::unexpected("out of memory writing " + path);
  out.scaler = sws_getContext(o.width, o.height, AV_PIX_FMT_BGR24, o.width, o.height, pixel_format(o), SWS_BILINEAR,
                              nullptr, nullptr, nullptr);
  const SyntheticCamera camera({.width = o.width,
                                .height = o.height,
                                .seed = o.seed,
                                .min_objects = o.min_objects,
                                .max_objects = o.max_objects});
  cv::Mat bgr(o.height, o.width, CV_8UC3);
  std::vector<GroundTruth> truth;
  for (int i = 0; i < o.frames; ++i) {
    camera.render(static_cast<std::uint64_t>(i), bgr.data, bgr.step, truth);
    if (av_frame_make_writable(out.frame) < 0) return std::unexpected("out of memory writing " + path);
    const std::array<const std::uint8_t*, 1> in{bgr.data};
    const std::array<int, 1> in_stride{static_cast<int>(bgr.step)};
    sws_scale(out.scaler, in.data(), in_stride.data(), 0, o.height, out.frame->data, out.frame->linesize);
    out.frame->pts = i;
    if (auto sent = encode(out, out.frame); !sent) return sent;
  }
  if (auto sent = encode(out, nullptr); !sent) return sent;
  if (const int rc = av_write_trailer(out.format); rc < 0) {
    return std::unexpected(fmt::format("cannot finish {}: {}", path, av_error(rc)));
  }
  return {};
}

}  // namespace shmyolo::ingest
