#include "decode_bench.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <opencv2/core/utility.hpp>
#include <shmyolo/config/pipeline_config.hpp>
#include <shmyolo/ingest/frame_source.hpp>

#include "process_stats.hpp"

namespace shmyolo::bench {
namespace {

config::CameraConfig camera_of(const DecodeBenchOptions& o, config::Decoder decoder) {
  config::CameraConfig c;
  c.name = "bench";
  c.source = o.source;
  c.loop = true;
  auto parsed = config::parse_source(c, ".");
  if (parsed) c = *parsed;
  c.decoder = decoder;
  return c;
}

// Reads `frames` frames of the stream one way; `place` converts each into
// a slot, `keyframes` decodes only key frames (frames of the stream then
// count the ones passed over).
DecodeWay measure(const DecodeBenchOptions& o, const std::string& name, config::Decoder decoder, bool place,
                  bool keyframes, std::string& error) {
  DecodeWay way{.name = name};
  auto source = ingest::open_source(camera_of(o, decoder));
  if (!source) {
    error = source.error();
    return way;
  }
  std::vector<std::uint8_t> slot(static_cast<std::size_t>(o.input) * o.input * 3);
  const ingest::SlotPixels pixels{
      .data = slot.data(), .width = o.input, .height = o.input, .stride = static_cast<std::size_t>(o.input) * 3};
  (*source)->keyframes_only(keyframes);
  std::string why;
  const double start = own_cpu_ms();
  const auto began = std::chrono::steady_clock::now();
  const double fps = (*source)->native_fps();
  while (true) {
    const auto counts = (*source)->decode_counts();
    const std::uint64_t gone = counts.decoded + counts.not_decoded;
    if (gone >= static_cast<std::uint64_t>(o.frames)) break;
    // Paced by the frames of the stream gone through, passed-over ones
    // included, so that key frames only come a key-frame interval apart.
    if (o.paced && fps > 0) {
      std::this_thread::sleep_until(began + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                std::chrono::duration<double>(static_cast<double>(gone) / fps)));
    }
    const ingest::ReadStatus got = (*source)->next(why);
    if (got == ingest::ReadStatus::pending) continue;
    if (got != ingest::ReadStatus::frame) {
      error = why;
      break;
    }
    if (place) (void)(*source)->place(pixels, {});
  }
  const auto counts = (*source)->decode_counts();
  way.decoded = counts.decoded;
  way.frames = counts.decoded + counts.not_decoded;
  way.cpu_ms_per_frame = (own_cpu_ms() - start) / static_cast<double>(std::max<std::uint64_t>(way.frames, 1));
  return way;
}

// Frames compared: enough to cover key and other frames (a key frame every
// second at 30 fps), few enough to add under a second to the run.
constexpr int kFramesCompared = 60;

SlotMatch compare_slots(const DecodeBenchOptions& o, std::string& error) {
  SlotMatch match;
  auto ffmpeg = ingest::open_source(camera_of(o, config::Decoder::ffmpeg));
  auto opencv = ingest::open_source(camera_of(o, config::Decoder::opencv));
  if (!ffmpeg || !opencv) {
    error = ffmpeg ? opencv.error() : ffmpeg.error();
    return match;
  }
  const auto bytes = static_cast<std::size_t>(o.input) * o.input * 3;
  std::vector<std::uint8_t> a(bytes);
  std::vector<std::uint8_t> b(bytes);
  const auto slot = [&](std::vector<std::uint8_t>& v) {
    return ingest::SlotPixels{
        .data = v.data(), .width = o.input, .height = o.input, .stride = static_cast<std::size_t>(o.input) * 3};
  };
  std::string why;
  for (int i = 0; i < std::min(o.frames, kFramesCompared); ++i) {
    if ((*ffmpeg)->next(why) != ingest::ReadStatus::frame || (*opencv)->next(why) != ingest::ReadStatus::frame) break;
    if (!(*ffmpeg)->place(slot(a), {}) || !(*opencv)->place(slot(b), {})) break;
    ++match.frames;
    int largest = 0;
    for (std::size_t k = 0; k < bytes; ++k) largest = std::max(largest, std::abs(int{a[k]} - int{b[k]}));
    if (largest == 0) ++match.same;
    match.largest = std::max(match.largest, largest);
  }
  return match;
}

}  // namespace

DecodeWay decode_floor(const DecodeBenchOptions& o, bool keyframes_only, std::string& error) {
  cv::setNumThreads(0);
  return measure(o, keyframes_only ? "ffmpeg key frames only, decode only" : "ffmpeg decode only (the floor)",
                 config::Decoder::ffmpeg, false, keyframes_only, error);
}

DecodeBenchReport run_decode_bench(const DecodeBenchOptions& o) {
  // One thread, as in a camera's ingest process: OpenCV's resizes and
  // conversions run on the calling thread.
  cv::setNumThreads(0);
  DecodeBenchReport r;
  using config::Decoder;
  r.ways.push_back(measure(o, "ffmpeg decode only (the floor)", Decoder::ffmpeg, false, false, r.error));
  r.ways.push_back(measure(o, "ffmpeg into the slot", Decoder::ffmpeg, true, false, r.error));
  r.ways.push_back(measure(o, "ffmpeg key frames only, into the slot", Decoder::ffmpeg, true, true, r.error));
  r.ways.push_back(measure(o, "opencv, resized into the slot", Decoder::opencv, true, false, r.error));
  r.match = compare_slots(o, r.error);
  return r;
}

std::string decode_table(const DecodeBenchOptions& o, const DecodeBenchReport& r) {
  std::string out = fmt::format("shmyolo bench decode: {} ({} frames per way, one thread, {}x{} slots)\n", o.source,
                                o.frames, o.input, o.input);
  // A source that gave no frame at all: the reason alone, not a table of zeros.
  if (!r.error.empty() && std::ranges::all_of(r.ways, [](const DecodeWay& w) { return w.decoded == 0; })) {
    return out + fmt::format("  failed: {}\n", r.error);
  }
  if (!r.error.empty()) out += fmt::format("  note: {}\n", r.error);
  out += fmt::format("  {:<40} {:>14} {:>9} {:>10}\n", "way", "CPU ms/frame", "decoded", "x floor");
  const double floor = r.ways.empty() ? 0 : r.ways.front().cpu_ms_per_frame;
  for (const auto& w : r.ways) {
    out += fmt::format("  {:<40} {:>14.3f} {:>9} {:>10.3f}\n", w.name, w.cpu_ms_per_frame, w.decoded,
                       floor > 0 ? w.cpu_ms_per_frame / floor : 0.0);
  }
  const SlotMatch& m = r.match;
  if (m.frames > 0) {
    out += fmt::format("  the ffmpeg path's slots against the opencv path's: {} of {} frames the same to the byte",
                       m.same, m.frames);
    out += m.same == m.frames ? std::string("\n") : fmt::format(" (a byte differs by {} at most)\n", m.largest);
  }
  return out;
}

}  // namespace shmyolo::bench
