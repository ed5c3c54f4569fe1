// The FFmpeg decoder path: the same detections as the OpenCV path (with and
// without a region of interest), key frames only, unused non-reference
// frames left undecoded (H.264 and HEVC), loops, and bad files said in one line.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

#include <gtest/gtest.h>
#include <shmyolo/config/pipeline_config.hpp>
#include <shmyolo/detect/detector.hpp>
#include <shmyolo/ingest/frame_source.hpp>
#include <shmyolo/ingest/synthetic_camera.hpp>
#include <shmyolo/ingest/video_clip.hpp>
#include <shmyolo/stats/scoring.hpp>

#include "test_support.hpp"

namespace shmyolo::ingest {
namespace {

namespace fs = std::filesystem;
using config::Decoder;

using test::TempDir;

config::CameraConfig camera(const fs::path& file, Decoder decoder, std::optional<config::Roi> roi = std::nullopt) {
  config::CameraConfig c;
  c.name = "cam";
  c.source = file.string();
  auto parsed = config::parse_source(c, ".");
  EXPECT_TRUE(parsed) << (parsed ? "" : parsed.error().message);
  if (parsed) c = *parsed;
  c.decoder = decoder;
  c.roi = roi;
  return c;
}

std::unique_ptr<FrameSource> open(const config::CameraConfig& c) {
  auto source = open_source(c);
  EXPECT_TRUE(source) << (source ? "" : source.error());
  return source ? std::move(*source) : nullptr;
}

struct Found {
  int class_id = 0;
  float score = 0;
  detect::Box box;  // full-frame pixels
};

// Each of the first `frames` frames placed into a slot at the model's input
// and detected there, boxes mapped back to the full frame as workers do.
std::vector<std::vector<Found>> detect_frames(const config::CameraConfig& c, detect::Detector& d, int frames) {
  std::vector<std::vector<Found>> all;
  auto source = open(c);
  if (!source) return all;
  const auto& info = d.info();
  std::vector<std::uint8_t> slot(static_cast<std::size_t>(info.input_width) * info.input_height * 3);
  const SlotPixels pixels{.data = slot.data(),
                          .width = info.input_width,
                          .height = info.input_height,
                          .stride = static_cast<std::size_t>(info.input_width) * 3};
  std::string error;
  for (int i = 0; i < frames && source->next(error) == ReadStatus::frame; ++i) {
    auto placed = source->place(pixels, info.preprocessing);
    EXPECT_TRUE(placed) << (placed ? "" : placed.error());
    if (!placed) break;
    auto out =
        d.detect({.data = slot.data(), .width = pixels.width, .height = pixels.height, .stride = pixels.stride}, {});
    EXPECT_TRUE(out);
    if (!out) break;
    std::vector<Found> found;
    for (const auto& det : out->detections) {
      detect::Box b = placed->transform.to_source(det.box, placed->picture.width, placed->picture.height);
      const auto dx = static_cast<float>(placed->crop.x);
      const auto dy = static_cast<float>(placed->crop.y);
      found.push_back({det.class_id, det.score, {b.x1 + dx, b.y1 + dy, b.x2 + dx, b.y2 + dy}});
    }
    all.push_back(std::move(found));
  }
  return all;
}

// The IoU of each box scored at least kSure by one path with the nearest
// box of its class from the other (0: none).
constexpr float kSure = 0.45F;

void match_ious(const std::vector<Found>& sure_of, const std::vector<Found>& in, std::vector<float>& ious) {
  for (const auto& a : sure_of) {
    if (a.score < kSure) continue;
    float best = 0;
    for (const auto& b : in) {
      if (b.class_id == a.class_id) best = std::max(best, detect::iou(a.box, b.box));
    }
    ious.push_back(best);
  }
}

// Where the picture shrinks by more than about 1.4 and not by a whole
// number, the two paths resample differently (the FFmpeg path resizes the
// decoder's planes, then converts the colours; the OpenCV path the other
// way round), so a small box may move by a fraction of a pixel at the
// model's scale, as it does between any two resizes. Every box must be
// found by both, in the same place: each of one path has its class's box
// from the other at IoU >= 0.9, and the median IoU is at least 0.98.
// `exact`: the same pixels, so every IoU is 1.
void expect_same_detections(const fs::path& file, const fs::path& model, int frames,
                            std::optional<config::Roi> roi = std::nullopt, bool exact = false) {
  auto d = detect::Detector::open({.path = model});
  ASSERT_TRUE(d) << d.error().message;
  const auto ffmpeg = detect_frames(camera(file, Decoder::ffmpeg, roi), *d, frames);
  const auto opencv = detect_frames(camera(file, Decoder::opencv, roi), *d, frames);
  ASSERT_EQ(ffmpeg.size(), static_cast<std::size_t>(frames));
  ASSERT_EQ(opencv.size(), static_cast<std::size_t>(frames));
  std::vector<float> ious;
  for (std::size_t f = 0; f < ffmpeg.size(); ++f) {
    match_ious(ffmpeg[f], opencv[f], ious);
    match_ious(opencv[f], ffmpeg[f], ious);
  }
  ASSERT_GT(ious.size(), static_cast<std::size_t>(frames)) << "too few boxes to compare";
  std::ranges::sort(ious);
  const float median = ious[ious.size() / 2];
  const auto close = std::ranges::count_if(ious, [](float v) { return v >= 0.98F; });
  std::printf("%zu boxes over %d frames: IoU min %.4f, median %.4f; %.1f %% at 0.98 or more\n", ious.size(), frames,
              static_cast<double>(ious.front()), static_cast<double>(median),
              100.0 * static_cast<double>(close) / static_cast<double>(ious.size()));
  EXPECT_GE(ious.front(), exact ? 0.9999F : 0.9F);
  EXPECT_GE(median, exact ? 0.9999F : 0.98F);
}

fs::path yolov8n() {
  return fs::path(test::shared_dir()) / "models/yolov8n/yolov8n_fp32_from_int8.onnx";
}
fs::path shapes_model() {
  return fs::path(test::source_dir()) / "models/shapes-320.onnx";
}
fs::path vtest() {
  return fs::path(test::shared_dir()) / "media/vtest.avi";
}

fs::path write_clip(const TempDir& dir, ClipOptions o) {
  o.path = dir.path() / (o.path.empty() ? fs::path("clip.mp4") : o.path);
  const auto written = write_synthetic_clip(o);
  EXPECT_TRUE(written) << (written ? "" : written.error());
  return o.path;
}

// 768x576 into 640x480: the picture shrinks little, the very same pixels.
TEST(FfmpegSource, SameDetectionsAsTheOpenCvPathOnARealClip) {
  expect_same_detections(vtest(), yolov8n(), 20, std::nullopt, true);
}

TEST(FfmpegSource, SameDetectionsAsTheOpenCvPathWithARegionOfInterest) {
  // 600x500 grows to 640x533: the very same pixels.
  expect_same_detections(vtest(), yolov8n(), 20, config::Roi{.x = 100, .y = 48, .width = 600, .height = 500}, true);
  // A corner between chroma samples takes the exact path: the very pixels of the OpenCV path.
  expect_same_detections(vtest(), yolov8n(), 10, config::Roi{.x = 101, .y = 47, .width = 600, .height = 500}, true);
}

TEST(FfmpegSource, SameDetectionsAsTheOpenCvPathOnA1080pH264Clip) {
  const TempDir dir;
  const auto clip = write_clip(dir, {.width = 1920, .height = 1080, .frames = 24, .seed = 3});
  // 1920x1080 into 320x180: a whole-number scale, the very same pixels.
  expect_same_detections(clip, shapes_model(), 24, std::nullopt, true);
  expect_same_detections(clip, shapes_model(), 24, config::Roi{.x = 300, .y = 100, .width = 1200, .height = 900});
}

// JPEG's full range (YUVJ420P), as many IP cameras send H.264, and MJPEG
// (YUVJ422P), at 1280x720 into 320x180: a scale of 4, where the planes are
// resized (not stretched: they are of full range already).
TEST(FfmpegSource, SameDetectionsAsTheOpenCvPathOnFullRangeAndMjpeg720pClips) {
  const TempDir dir;
  const auto clip = write_clip(dir, {.width = 1280, .height = 720, .frames = 24, .seed = 3, .full_range = true});
  expect_same_detections(clip, shapes_model(), 24);
  // MJPEG's 4:2:2 at the same scale.
  const auto mjpeg = write_clip(
      dir, {.path = "mjpeg.avi", .width = 1280, .height = 720, .frames = 24, .seed = 3, .codec = VideoCodec::mjpeg});
  expect_same_detections(mjpeg, shapes_model(), 24);
}

// Each frame placed into a slot of `side` x `side` by the FFmpeg path and by
// the OpenCV path: the count of frames whose slots differ in any byte. Bytes
// past the slot's end must stay as they were: swscale's conversion is
// assembly, which ASan does not see, and the next slot of a ring lies there.
int frames_differing(const config::CameraConfig& ffmpeg_camera, const config::CameraConfig& opencv_camera, int side,
                     int frames) {
  auto ffmpeg = open(ffmpeg_camera);
  auto opencv = open(opencv_camera);
  if (!ffmpeg || !opencv) return frames;
  const auto bytes = static_cast<std::size_t>(side) * side * 3;
  constexpr std::size_t kGuard = 64;
  constexpr std::uint8_t kUntouched = 0xa5;
  std::vector<std::uint8_t> a(bytes + kGuard, kUntouched);
  std::vector<std::uint8_t> b(bytes + kGuard, kUntouched);
  const auto stride = static_cast<std::size_t>(side) * 3;
  std::string error;
  int differing = 0;
  for (int i = 0; i < frames; ++i) {
    EXPECT_EQ(ffmpeg->next(error), ReadStatus::frame) << error;
    EXPECT_EQ(opencv->next(error), ReadStatus::frame) << error;
    const auto placed_a = ffmpeg->place({.data = a.data(), .width = side, .height = side, .stride = stride}, {});
    const auto placed_b = opencv->place({.data = b.data(), .width = side, .height = side, .stride = stride}, {});
    EXPECT_TRUE(placed_a && placed_b);
    EXPECT_TRUE(std::all_of(a.begin() + static_cast<std::ptrdiff_t>(bytes), a.end(), [](std::uint8_t v) {
      return v == kUntouched;
    })) << "the FFmpeg path wrote past the slot";
    if (a != b) ++differing;
  }
  return differing;
}

// 1080p into 640 (every output pixel on one source pixel) and into 320 (two
// by two): the FFmpeg path converts only the pixels the resize reads, and its
// slots are the OpenCV path's to the byte, so are its boxes.
TEST(FfmpegSource, TheOpenCvPathsVeryPixelsAtAWholeNumberScale) {
  const TempDir dir;
  constexpr int kFrames = 12;
  const auto clip = write_clip(dir, {.width = 1920, .height = 1080, .frames = kFrames, .seed = 5});
  for (const int side : {640, 320}) {
    EXPECT_EQ(frames_differing(camera(clip, Decoder::ffmpeg), camera(clip, Decoder::opencv), side, kFrames), 0) << side;
  }
  // A region of interest at the same scale: the crop's corner moves the planes.
  const config::Roi roi{.x = 240, .y = 120, .width = 960, .height = 540};
  EXPECT_EQ(frames_differing(camera(clip, Decoder::ffmpeg, roi), camera(clip, Decoder::opencv, roi), 320, kFrames), 0);
  // JPEG's full range (YUVJ420P), as many IP cameras send H.264.
  const auto full = write_clip(
      dir, {.path = "full.mp4", .width = 1920, .height = 1080, .frames = kFrames, .seed = 5, .full_range = true});
  for (const int side : {640, 320}) {
    EXPECT_EQ(frames_differing(camera(full, Decoder::ffmpeg), camera(full, Decoder::opencv), side, kFrames), 0)
        << "full range into " << side;
  }
  // MJPEG's 4:2:2 (a chroma row for every row), as USB and many IP cameras send it.
  const auto mjpeg = write_clip(
      dir,
      {.path = "mjpeg.avi", .width = 1920, .height = 1080, .frames = kFrames, .seed = 5, .codec = VideoCodec::mjpeg});
  for (const int side : {640, 320}) {
    EXPECT_EQ(frames_differing(camera(mjpeg, Decoder::ffmpeg), camera(mjpeg, Decoder::opencv), side, kFrames), 0)
        << "MJPEG into " << side;
  }
  EXPECT_EQ(frames_differing(camera(mjpeg, Decoder::ffmpeg, roi), camera(mjpeg, Decoder::opencv, roi), 320, kFrames), 0)
      << "MJPEG with a region of interest";
}

// Where the picture shrinks by less than about 1.4 a side, grows, or keeps
// its size, the FFmpeg path converts the crop whole (or straight into the
// slot at the same size) and resizes it as the OpenCV path does: the same
// slots to the byte. Widths and heights that are not multiples of 8 or even
// check the conversion's steps of 8 pixels and its rows of chroma; JPEG's
// full range and MJPEG's 4:2:2 take the same ways.
TEST(FfmpegSource, TheOpenCvPathsVeryPixelsWhereThePictureShrinksLittle) {
  const TempDir dir;
  constexpr int kFrames = 8;
  const auto same = [](const fs::path& clip, int side, std::optional<config::Roi> roi = std::nullopt) {
    return frames_differing(camera(clip, Decoder::ffmpeg, roi), camera(clip, Decoder::opencv, roi), side, kFrames);
  };
  EXPECT_EQ(same(vtest(), 640), 0) << "768x576 into 640x480";
  const auto vga = write_clip(dir, {.path = "vga.mp4", .width = 640, .height = 480, .frames = kFrames, .seed = 7});
  EXPECT_EQ(same(vga, 640), 0) << "640x480 into 640: the same size";
  EXPECT_EQ(same(vga, 800), 0) << "640x480 into 800x600: larger";
  EXPECT_EQ(same(vga, 640, config::Roi{.x = 100, .y = 40, .width = 333, .height = 401}), 0)
      << "an odd-sized region of interest into 640";
  EXPECT_EQ(same(vga, 480, config::Roi{.x = 0, .y = 0, .width = 640, .height = 333}), 0)
      << "an odd-sized region of interest, its width at 1.33";
  // The same size, filling the slot to its last byte: straight into it.
  EXPECT_EQ(same(vga, 480, config::Roi{.x = 80, .y = 0, .width = 480, .height = 480}), 0)
      << "a region of interest of the slot's size";
  // The same size, 477 wide in 480: the conversion's steps of 8 would end past the slot's last row.
  EXPECT_EQ(same(vga, 480, config::Roi{.x = 100, .y = 0, .width = 477, .height = 480}), 0)
      << "a region of interest 477 wide at the same size";
  const auto full = write_clip(
      dir, {.path = "full.mp4", .width = 640, .height = 480, .frames = kFrames, .seed = 7, .full_range = true});
  EXPECT_EQ(same(full, 640), 0) << "640x480 of full range into 640";
  EXPECT_EQ(same(full, 560), 0) << "640x480 of full range into 560x420";
  const auto mjpeg = write_clip(
      dir,
      {.path = "mjpeg.avi", .width = 640, .height = 480, .frames = kFrames, .seed = 7, .codec = VideoCodec::mjpeg});
  EXPECT_EQ(same(mjpeg, 640), 0) << "640x480 MJPEG into 640";
  EXPECT_EQ(same(mjpeg, 560), 0) << "640x480 MJPEG into 560x420";
  // 4:2:2 lets a region of interest start on an odd row.
  EXPECT_EQ(same(mjpeg, 640, config::Roi{.x = 100, .y = 41, .width = 333, .height = 401}), 0)
      << "an MJPEG region of interest at an odd row, of odd size";
}

// HEVC (H.265), as many newer IP cameras send: its decoder gives the same
// planes (a 1080p picture cropped from 1088 coded rows, as H.264's is), so
// the FFmpeg path takes the same exact ways, to the byte.
TEST(FfmpegSource, TheOpenCvPathsVeryPixelsOnHevc) {
  const TempDir dir;
  constexpr int kFrames = 8;
  const auto clip =
      write_clip(dir, {.width = 1920, .height = 1080, .frames = kFrames, .seed = 9, .codec = VideoCodec::hevc});
  for (const int side : {640, 320}) {
    EXPECT_EQ(frames_differing(camera(clip, Decoder::ffmpeg), camera(clip, Decoder::opencv), side, kFrames), 0)
        << "1080p HEVC into " << side;
  }
  const config::Roi roi{.x = 240, .y = 120, .width = 960, .height = 540};
  EXPECT_EQ(frames_differing(camera(clip, Decoder::ffmpeg, roi), camera(clip, Decoder::opencv, roi), 320, kFrames), 0)
      << "an HEVC region of interest";
}

// Both paths scored against the synthetic scene's own truth: the FFmpeg
// path finds the objects as well as the OpenCV path does, and places its
// boxes as close to the true ones.
TEST(FfmpegSource, AsAccurateAsTheOpenCvPathAgainstTheTruth) {
  const TempDir dir;
  constexpr int kFrames = 40;
  const ClipOptions o{.width = 1920, .height = 1080, .frames = kFrames, .seed = 5};
  const auto clip = write_clip(dir, o);
  auto d = detect::Detector::open({.path = shapes_model()});
  ASSERT_TRUE(d) << d.error().message;
  const SyntheticCamera scene({.width = o.width, .height = o.height, .seed = o.seed});
  std::vector<stats::Tally> tallies;
  std::vector<double> mean_ious;
  for (const Decoder decoder : {Decoder::ffmpeg, Decoder::opencv}) {
    const auto frames = detect_frames(camera(clip, decoder), *d, kFrames);
    ASSERT_EQ(frames.size(), static_cast<std::size_t>(kFrames));
    stats::Tally tally;
    std::vector<GroundTruth> truth;
    double iou_sum = 0;
    int matched = 0;
    for (int i = 0; i < kFrames; ++i) {
      std::vector<detect::Detection> found;
      for (const auto& f : frames[static_cast<std::size_t>(i)]) found.push_back({f.class_id, f.score, f.box});
      scene.truth(static_cast<std::uint64_t>(i), truth);
      tally += stats::score(found, truth);
      for (const auto& t : truth) {  // each true box's best match: how closely boxes sit
        float best = 0;
        for (const auto& f : found) {
          if (f.class_id == t.class_id) best = std::max(best, detect::iou(f.box, {t.x1, t.y1, t.x2, t.y2}));
        }
        if (best >= 0.5F) {
          iou_sum += best;
          ++matched;
        }
      }
    }
    const double mean_iou = iou_sum / std::max(matched, 1);
    std::printf("%s: precision %.4f recall %.4f, mean IoU with the truth %.4f\n",
                decoder == Decoder::ffmpeg ? "ffmpeg" : "opencv", tally.precision(), tally.recall(), mean_iou);
    tallies.push_back(tally);
    mean_ious.push_back(mean_iou);
  }
  EXPECT_GE(mean_ious[0], mean_ious[1] - 0.01);
  EXPECT_GE(tallies[0].recall(), tallies[1].recall() - 0.02);
  EXPECT_GE(tallies[0].precision(), tallies[1].precision() - 0.02);
  EXPECT_GT(tallies[1].recall(), 0.5) << "the scene must be one the model finds";
}

// A source of 3 s of 30 fps video with a key frame every second, decoding key frames only.
std::unique_ptr<FrameSource> keyframes_of_three_seconds(const TempDir& dir, VideoCodec codec = VideoCodec::h264) {
  const auto clip = write_clip(dir, {.width = 320, .height = 240, .frames = 90, .keyint = 30, .codec = codec});
  auto source = open(camera(clip, Decoder::ffmpeg));
  if (source) source->keyframes_only(true);
  return source;
}

TEST(FfmpegSource, KeyFramesOnlyDecodesOnlyKeyFrames) {
  for (const auto codec : {VideoCodec::h264, VideoCodec::hevc}) {
    SCOPED_TRACE(codec == VideoCodec::hevc ? "HEVC" : "H.264");
    const TempDir dir;
    auto source = keyframes_of_three_seconds(dir, codec);
    ASSERT_TRUE(source);
    std::string error;
    std::vector<double> times;
    while (source->next(error) == ReadStatus::frame) times.push_back(source->frame_time().value_or(-1));
    EXPECT_EQ(source->decode_counts().decoded, 3U);
    EXPECT_EQ(source->decode_counts().not_decoded, 87U);
    ASSERT_EQ(times.size(), 3U);
    EXPECT_NEAR(times[0], 0.0, 1e-6);
    EXPECT_NEAR(times[1], 1.0, 1e-6);  // frame 30 of 30 fps
    EXPECT_NEAR(times[2], 2.0, 1e-6);
  }
}

TEST(FfmpegSource, EveryFrameAgainRightAfterAKeyFrame) {
  const TempDir dir;
  auto source = keyframes_of_three_seconds(dir);
  ASSERT_TRUE(source);
  std::string error;
  ASSERT_EQ(source->next(error), ReadStatus::frame);  // frame 0, a key frame
  ASSERT_EQ(source->next(error), ReadStatus::frame);  // frame 30
  source->keyframes_only(false);                      // its successors refer to it: decodable at once
  ASSERT_EQ(source->next(error), ReadStatus::frame);
  EXPECT_NEAR(source->frame_time().value_or(-1), 31.0 / 30, 1e-6);
  int rest = 0;
  while (source->next(error) == ReadStatus::frame) ++rest;
  EXPECT_EQ(rest, 58);  // frames 32 to 89
  EXPECT_EQ(source->decode_counts().decoded, 61U);
  EXPECT_EQ(source->decode_counts().not_decoded, 29U);
}

TEST(FfmpegSource, UnusedNonReferenceFramesAreNotDecoded) {
  for (const auto codec : {VideoCodec::h264, VideoCodec::hevc}) {
    SCOPED_TRACE(codec == VideoCodec::hevc ? "HEVC" : "H.264");
    const TempDir dir;
    // One B-frame between references: x264 and x265 make every such B-frame a non-reference one.
    const auto clip =
        write_clip(dir, {.width = 320, .height = 240, .frames = 60, .keyint = 30, .bframes = 1, .codec = codec});
    auto source = open(camera(clip, Decoder::ffmpeg));
    ASSERT_TRUE(source);
    source->next_unused(true);
    std::string error;
    int frames = 0;
    while (source->next(error) == ReadStatus::frame) ++frames;
    const auto counts = source->decode_counts();
    EXPECT_EQ(counts.decoded + counts.not_decoded, 60U);
    EXPECT_GE(counts.not_decoded, 20U) << "about every other frame is a non-reference B-frame";
    EXPECT_EQ(static_cast<std::uint64_t>(frames), counts.decoded);
  }
}

TEST(FfmpegSource, LoopsKeepTheFileTimeGoing) {
  const TempDir dir;
  const auto clip = write_clip(dir, {.width = 160, .height = 120, .frames = 15, .keyint = 15});
  auto c = camera(clip, Decoder::ffmpeg);
  c.loop = true;
  auto source = open(c);
  ASSERT_TRUE(source);
  std::string error;
  double last = -1;
  for (int i = 0; i < 40; ++i) {
    ASSERT_EQ(source->next(error), ReadStatus::frame) << error;
    const double t = source->frame_time().value_or(-1);
    EXPECT_NEAR(t, i / 30.0, 1e-6) << "frame " << i;
    EXPECT_GT(t, last);
    last = t;
  }
}

// A bad file: one line naming it, no crash.
void expect_refused(const fs::path& file, const std::string& why) {
  auto source = open_source(camera(file, Decoder::ffmpeg));
  ASSERT_FALSE(source) << file;
  EXPECT_NE(source.error().find(file.string()), std::string::npos) << source.error();
  EXPECT_NE(source.error().find(why), std::string::npos) << source.error();
  EXPECT_EQ(source.error().find('\n'), std::string::npos) << source.error();
}

TEST(FfmpegSource, ATruncatedMp4IsSaidInOneLine) {
  const TempDir dir;
  const auto clip = write_clip(dir, {.width = 320, .height = 240, .frames = 30});
  fs::resize_file(clip, fs::file_size(clip) / 2);  // the index (moov) is written last: gone
  expect_refused(clip, "moov atom not found");
}

TEST(FfmpegSource, RandomBytesAreSaidInOneLine) {
  const TempDir dir;
  const auto file = dir.path() / "noise.mp4";
  std::ofstream out(file, std::ios::binary);
  std::mt19937 random(7);
  for (int i = 0; i < 100000; ++i) out.put(static_cast<char>(random() & 0xff));
  out.close();
  expect_refused(file, "not a video FFmpeg can read");
}

TEST(FfmpegSource, DamagedPacketsAreSkippedToTheNextKeyFrame) {
  const TempDir dir;
  const auto clip = write_clip(dir, {.path = "clip.mkv", .width = 320, .height = 240, .frames = 90, .keyint = 30});
  // Scribble over the middle of the file (the second second's packets).
  std::fstream f(clip, std::ios::binary | std::ios::in | std::ios::out);
  const auto size = static_cast<std::streamoff>(fs::file_size(clip));
  f.seekp(size * 45 / 100);
  std::mt19937 random(3);
  for (std::streamoff i = 0; i < size / 20; ++i) f.put(static_cast<char>(random() & 0xff));
  f.close();
  auto source = open(camera(clip, Decoder::ffmpeg));
  ASSERT_TRUE(source);
  std::string error;
  ReadStatus got = ReadStatus::frame;
  int frames = 0;
  while ((got = source->next(error)) == ReadStatus::frame) ++frames;
  EXPECT_EQ(got, ReadStatus::end) << error;
  EXPECT_GT(frames, 30) << "the frames before and after the damage still come";
  EXPECT_LT(frames, 90) << "damaged frames are passed over, not shown smeared";
}

}  // namespace
}  // namespace shmyolo::ingest
