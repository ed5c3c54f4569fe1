#include <shmyolo/detect/detector.hpp>

#include <chrono>
#include <fstream>

#include "engines.hpp"

namespace shmyolo::detect {

namespace detail {

std::string one_line(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '\n' || c == '\r') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

}  // namespace detail

namespace {

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

DetectResult<void> check_model_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return detect_error(DetectErrc::model_not_found, "model file " + path.string() + " does not exist; check the path");
  }
  if (!std::filesystem::is_regular_file(path, ec)) {
    return detect_error(DetectErrc::model_invalid, "model " + path.string() + " is not a regular file");
  }
  if (std::filesystem::file_size(path, ec) == 0) {
    return detect_error(DetectErrc::model_invalid, "model file " + path.string() + " is empty");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return detect_error(DetectErrc::model_invalid, "cannot read model file " + path.string() + ": permission?");
  return {};
}

}  // namespace

DetectResult<std::unique_ptr<InferenceEngine>> open_engine(const ModelOptions& options) {
  if (auto ok = check_model_file(options.path); !ok) return std::unexpected(ok.error());
  if (options.threads < 1 || options.threads > 256) {
    return detect_error(DetectErrc::bad_input, "threads must be 1..256, not " + std::to_string(options.threads));
  }
  const auto ext = options.path.extension();
  if (ext == ".cfg" || ext == ".weights") {
    if (options.engine == Engine::onnxruntime) {
      // Darknet models only run in OpenCV: use it rather than refuse.
      auto o = options;
      o.engine = Engine::opencv;
      return detail::open_opencv_engine(o);
    }
  }
  return options.engine == Engine::onnxruntime ? detail::open_ort_engine(options) : detail::open_opencv_engine(options);
}

DetectResult<Detector> Detector::open(const ModelOptions& options) {
  auto engine = open_engine(options);
  if (!engine) return std::unexpected(engine.error());
  return Detector(std::move(*engine));
}

void Detector::warm_up() {
  const int w = info().input_width;
  const int h = info().input_height;
  // 114: the grey that letterboxes pad with (Ultralytics and YOLOX alike).
  const std::vector<std::uint8_t> blank(static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * 3, 114);
  (void)detect({.data = blank.data(), .width = w, .height = h, .stride = static_cast<std::size_t>(w) * 3}, {});
}

DetectResult<DetectOutput> Detector::detect(const ImageView& image, const DetectOptions& options) {
  auto out = detect_batch(std::span<const ImageView>(&image, 1), options);
  if (!out) return std::unexpected(out.error());
  return std::move(out->front());
}

DetectResult<std::vector<DetectOutput>> Detector::detect_batch(std::span<const ImageView> images,
                                                               const DetectOptions& options) {
  const ModelInfo& m = engine_->info();
  for (const auto& img : images) {
    if (img.data == nullptr || img.width <= 0 || img.height <= 0 ||
        img.stride < static_cast<std::size_t>(img.width) * 3) {
      return detect_error(DetectErrc::bad_input, "image of " + std::to_string(img.width) + "x" +
                                                     std::to_string(img.height) + " with stride " +
                                                     std::to_string(img.stride) + " is not a valid 3-channel image");
    }
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto tensor = engine_->input(static_cast<int>(images.size()));
  if (!tensor) return std::unexpected(tensor.error());
  const std::size_t per_image = static_cast<std::size_t>(3) * m.input_width * m.input_height;
  std::vector<LetterboxTransform> transforms;
  transforms.reserve(images.size());
  for (std::size_t i = 0; i < images.size(); ++i) {
    transforms.push_back(
        letterboxer_.run(images[i], m.input_width, m.input_height, m.preprocessing, *tensor + i * per_image));
  }
  const double pre_ms = ms_since(t0);
  const auto t1 = std::chrono::steady_clock::now();
  auto outputs = engine_->run();
  if (!outputs) return std::unexpected(outputs.error());
  const double infer_ms = ms_since(t1);

  DecodeParams params;
  params.confidence = options.confidence;
  if (!options.classes.empty()) {
    params.keep_class.assign(static_cast<std::size_t>(m.num_classes), false);
    for (const int c : options.classes) {
      if (c >= 0 && c < m.num_classes) params.keep_class[static_cast<std::size_t>(c)] = true;
    }
  }
  std::vector<DetectOutput> results(images.size());
  std::vector<Candidate> candidates;
  for (std::size_t i = 0; i < images.size(); ++i) {
    const auto t2 = std::chrono::steady_clock::now();
    candidates.clear();
    if (auto ok = decode(m, *outputs, static_cast<int>(i), params, candidates); !ok) return std::unexpected(ok.error());
    const bool suppressed_by_model = m.layout == OutputLayout::end_to_end;
    auto kept = suppressed_by_model ? std::move(candidates)
                                    : non_max_suppression(std::move(candidates), options.iou, options.max_detections);
    if (suppressed_by_model && kept.size() > options.max_detections) kept.resize(options.max_detections);
    auto& r = results[i];
    for (const auto& c : kept) {
      const Box box = transforms[i].to_source(c.box, images[i].width, images[i].height);
      if (box.area() > 0) r.detections.push_back({c.class_id, c.score, box});
    }
    r.times = {pre_ms / static_cast<double>(images.size()), infer_ms / static_cast<double>(images.size()),
               ms_since(t2)};
    candidates = {};
  }
  return results;
}

const std::vector<std::string>& coco_names() {
  static const std::vector<std::string> names{
      "person",         "bicycle",    "car",           "motorcycle",    "airplane",     "bus",           "train",
      "truck",          "boat",       "traffic light", "fire hydrant",  "stop sign",    "parking meter", "bench",
      "bird",           "cat",        "dog",           "horse",         "sheep",        "cow",           "elephant",
      "bear",           "zebra",      "giraffe",       "backpack",      "umbrella",     "handbag",       "tie",
      "suitcase",       "frisbee",    "skis",          "snowboard",     "sports ball",  "kite",          "baseball bat",
      "baseball glove", "skateboard", "surfboard",     "tennis racket", "bottle",       "wine glass",    "cup",
      "fork",           "knife",      "spoon",         "bowl",          "banana",       "apple",         "sandwich",
      "orange",         "broccoli",   "carrot",        "hot dog",       "pizza",        "donut",         "cake",
      "chair",          "couch",      "potted plant",  "bed",           "dining table", "toilet",        "tv",
      "laptop",         "mouse",      "remote",        "keyboard",      "cell phone",   "microwave",     "oven",
      "toaster",        "sink",       "refrigerator",  "book",          "clock",        "vase",          "scissors",
      "teddy bear",     "hair drier", "toothbrush"};
  return names;
}

}  // namespace shmyolo::detect
