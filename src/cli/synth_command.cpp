// shmyolo synth: synthetic-camera frames and their labels (YOLO txt format),
// so that training and the live demo draw the very same scenes.
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>
#include <shmyolo/ingest/synthetic_camera.hpp>
#include <shmyolo/ingest/video_clip.hpp>

#include "commands.hpp"

namespace shmyolo::cli {
namespace {

struct SynthArgs {
  std::string out;
  int frames = 100;
  int cameras = 1;
  int width = 640;
  int height = 480;
  std::uint64_t seed = 1;
  int every = 1;      // keep every n-th frame: consecutive frames are near duplicates
  std::string video;  // an H.264 clip instead of images and labels
  int fps = 30;
  int keyint = 30;
  int bframes = 0;
  bool full_range = false;
  bool hevc = false;
  bool mjpeg = false;
};

ingest::VideoCodec codec_of(const SynthArgs& a) {
  if (a.hevc) return ingest::VideoCodec::hevc;
  return a.mjpeg ? ingest::VideoCodec::mjpeg : ingest::VideoCodec::h264;
}

int run_video(const SynthArgs& a) {
  const auto written = ingest::write_synthetic_clip({.path = a.video,
                                                     .width = a.width,
                                                     .height = a.height,
                                                     .fps = a.fps,
                                                     .frames = a.frames,
                                                     .keyint = a.keyint,
                                                     .bframes = a.bframes,
                                                     .seed = a.seed,
                                                     .full_range = a.full_range,
                                                     .codec = codec_of(a)});
  if (!written) return fail(written.error());
  std::string kind = a.mjpeg ? "MJPEG, every frame a key frame"
                             : fmt::format("{}, a key frame every {}{}", a.hevc ? "HEVC" : "H.264", a.keyint,
                                           a.full_range ? ", full range" : "");
  fmt::print("wrote {} frames ({}x{}, {} fps, {}) to {}\n", a.frames, a.width, a.height, a.fps, kind, a.video);
  return 0;
}

int run_synth(const SynthArgs& a) {
  if (!a.video.empty()) return run_video(a);
  if (a.out.empty()) return (fail("say where: --out FOLDER (images and labels) or --video FILE (an H.264 clip)"), 2);
  const std::filesystem::path out(a.out);
  std::error_code ec;
  std::filesystem::create_directories(out / "images", ec);
  std::filesystem::create_directories(out / "labels", ec);
  if (!ec) std::filesystem::create_directories(out / "hidden", ec);
  if (ec) return fail(fmt::format("cannot create {}: {}", out.string(), ec.message()));
  {
    std::ofstream names(out / "classes.txt");
    for (const auto& n : ingest::SyntheticCamera::class_names()) names << n << '\n';
  }
  cv::Mat frame(a.height, a.width, CV_8UC3);
  std::vector<ingest::GroundTruth> truth;
  int written = 0;
  for (int cam = 0; cam < a.cameras; ++cam) {
    const ingest::SyntheticCamera camera(
        {.width = a.width, .height = a.height, .seed = a.seed + static_cast<std::uint64_t>(cam)});
    for (int i = 0; i < a.frames; ++i) {
      const auto index = static_cast<std::uint64_t>(i) * static_cast<std::uint64_t>(a.every);
      camera.render(index, frame.data, frame.step, truth);
      const std::string stem = fmt::format("s{}_c{}_{:06d}", a.seed, cam, i);
      // PNG level 1: these files are read once by training; speed over size.
      if (!cv::imwrite((out / "images" / (stem + ".png")).string(), frame, {cv::IMWRITE_PNG_COMPRESSION, 1})) {
        return fail(fmt::format("cannot write {}", (out / "images" / (stem + ".png")).string()));
      }
      std::ofstream labels(out / "labels" / (stem + ".txt"));
      std::ofstream hidden;  // mostly hidden objects: neither to find nor to avoid
      const auto w = static_cast<float>(a.width);
      const auto h = static_cast<float>(a.height);
      for (const auto& g : truth) {
        const bool visible = g.visible >= ingest::kMinLabelledVisibility;
        if (!visible && !hidden.is_open()) hidden.open(out / "hidden" / (stem + ".txt"));
        // YOLO txt: class cx cy w h, normalised to the frame.
        (visible ? labels : hidden) << fmt::format("{} {:.6f} {:.6f} {:.6f} {:.6f}\n", g.class_id,
                                                   (g.x1 + g.x2) / 2 / w, (g.y1 + g.y2) / 2 / h, (g.x2 - g.x1) / w,
                                                   (g.y2 - g.y1) / h);
      }
      ++written;
    }
  }
  fmt::print("wrote {} frames with labels to {}\n", written, out.string());
  return 0;
}

}  // namespace

void add_synth_command(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<SynthArgs>();
  auto* cmd = app.add_subcommand("synth", "Write synthetic-camera frames and YOLO labels to a folder, or a video");
  cmd->add_option("--out,-o", a->out, "Output folder (images/, labels/, hidden/, classes.txt)");
  cmd->add_option("--video", a->video, "Write an H.264 clip instead (.mp4, .mkv; see --hevc and --mjpeg)");
  cmd->add_option("--fps", a->fps, "The clip's frame rate")->check(CLI::Range(1, 240));
  cmd->add_option("--keyint", a->keyint, "The clip's frames from one key frame to the next")
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--bframes", a->bframes, "The clip's B-frames between references")->check(CLI::Range(0, 16));
  cmd->add_flag("--full-range", a->full_range, "The clip in JPEG's full range, as many IP cameras send H.264");
  auto* hevc = cmd->add_flag("--hevc", a->hevc, "An HEVC (H.265) clip, as many newer IP cameras send (.mp4, .mkv)");
  cmd->add_flag("--mjpeg", a->mjpeg, "An MJPEG clip (4:2:2, full range), as USB and many IP cameras send (.avi, .mkv)")
      ->excludes(hevc);
  cmd->add_option("--frames", a->frames, "Frames per camera")->check(CLI::Range(1, 1000000));
  cmd->add_option("--cameras", a->cameras, "Cameras (seeds seed, seed+1, ...)")->check(CLI::Range(1, 10000));
  cmd->add_option("--width", a->width, "Frame width")->check(CLI::Range(32, 8192));
  cmd->add_option("--height", a->height, "Frame height")->check(CLI::Range(32, 8192));
  cmd->add_option("--seed", a->seed, "Seed of the first camera");
  cmd->add_option("--every", a->every, "Keep every n-th frame")->check(CLI::Range(1, 100000));
  cmd->callback([a, &exit_code] { exit_code = run_synth(*a); });
}

}  // namespace shmyolo::cli
