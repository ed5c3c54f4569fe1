// shmyolo detect IMAGE... | shmyolo models inspect MODEL
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <shmyolo/detect/detector.hpp>
#include <shmyolo/detect/layouts.hpp>
#include <shmyolo/image/image_file.hpp>

#include "commands.hpp"

namespace shmyolo::cli {
namespace {

using detect::Detection;

struct ModelArgs {
  std::string model;
  std::string engine = "ort";
  std::string layout;
  std::string names;
  int threads = 1;
  int input_size = 0;
  bool allow_spinning = false;
};

void add_model_options(CLI::App* cmd, ModelArgs& a) {
  cmd->add_option("--model,-m", a.model, "Model: .onnx, or a Darknet .cfg with its .weights beside it")->required();
  cmd->add_option("--engine", a.engine, "Inference engine")->check(CLI::IsMember({"ort", "opencv"}));
  cmd->add_option("--layout", a.layout, "Output layout when it cannot be inferred")
      ->check(CLI::IsMember(detect::layout_names_and_aliases()));
  cmd->add_option("--names", a.names, "Class names file, one per line (default: the model's metadata)");
  cmd->add_option("--threads", a.threads, "Inference threads")->check(CLI::Range(1, 64));
  cmd->add_option("--input-size", a.input_size, "Input size for models whose size is not fixed")
      ->check(CLI::Range(32, 4096));
  cmd->add_flag("--allow-spinning", a.allow_spinning,
                "Let ONNX Runtime's threads busy-wait between operators (faster alone, slower on shared cores)");
}

detect::ModelOptions model_options(const ModelArgs& a) {
  detect::ModelOptions o;
  o.path = a.model;
  o.engine = a.engine == "opencv" ? detect::Engine::opencv : detect::Engine::onnxruntime;
  o.threads = a.threads;
  if (!a.layout.empty()) o.layout = detect::parse_layout(a.layout);
  if (a.input_size > 0) o.input_size = a.input_size;
  o.names_file = a.names;
  o.allow_spinning = a.allow_spinning;
  return o;
}

std::string class_name(const detect::ModelInfo& m, int id) {
  return id >= 0 && static_cast<std::size_t>(id) < m.names.size() ? m.names[static_cast<std::size_t>(id)]
                                                                  : fmt::format("class{}", id);
}

// Short decimals in the JSON: dividing by the count per unit (rather than
// multiplying by the step, 0.1, which no double holds exactly) prints 215.1,
// not 215.10000000000002.
double round_to(double v, double per_unit) {
  return std::round(v * per_unit) / per_unit;
}

nlohmann::json detection_json(const detect::ModelInfo& m, const Detection& d) {
  return {{"class_id", d.class_id},
          {"class", class_name(m, d.class_id)},
          {"score", round_to(d.score, 1e4)},
          {"box", {round_to(d.box.x1, 10), round_to(d.box.y1, 10), round_to(d.box.x2, 10), round_to(d.box.y2, 10)}}};
}

void annotate(cv::Mat& img, const detect::ModelInfo& m, const std::vector<Detection>& dets) {
  for (const auto& d : dets) {
    // A colour per class from a fixed hue walk (golden angle), so classes stay distinguishable.
    const double hue = std::fmod(d.class_id * 137.508, 360.0);
    cv::Mat hsv(1, 1, CV_8UC3, cv::Scalar(hue / 2, 220, 255));
    cv::Mat bgr;
    cv::cvtColor(hsv, bgr, cv::COLOR_HSV2BGR);
    const cv::Scalar color(bgr.data[0], bgr.data[1], bgr.data[2]);
    const cv::Point p1(static_cast<int>(d.box.x1), static_cast<int>(d.box.y1));
    const cv::Point p2(static_cast<int>(d.box.x2), static_cast<int>(d.box.y2));
    cv::rectangle(img, p1, p2, color, 2);
    const std::string label = fmt::format("{} {:.2f}", class_name(m, d.class_id), d.score);
    int base = 0;
    const cv::Size ts = cv::getTextSize(label, cv::FONT_HERSHEY_SIMPLEX, 0.5, 1, &base);
    const cv::Point top(p1.x, std::max(p1.y, ts.height + 4));
    cv::rectangle(img, top - cv::Point(0, ts.height + 4), top + cv::Point(ts.width + 4, 0), color, cv::FILLED);
    cv::putText(img, label, top + cv::Point(2, -3), cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  }
}

struct DetectArgs {
  ModelArgs model;
  std::vector<std::string> images;
  float conf = 0.25F;
  float iou = 0.45F;
  std::vector<std::string> classes;
  int max_det = 300;
  std::string annotate_dir;
};

int run_detect(const DetectArgs& a) {
  auto detector = detect::Detector::open(model_options(a.model));
  if (!detector) return fail(detector.error().message);
  const auto& m = detector->info();
  const auto classes = detect::class_ids(m.names, a.classes);
  if (!classes)
    return fail(fmt::format("--classes: {} (see shmyolo models inspect {})", classes.error().message, a.model.model));
  detect::DetectOptions opts{a.conf, a.iou, static_cast<std::size_t>(a.max_det), *classes};
  if (!a.annotate_dir.empty()) std::filesystem::create_directories(a.annotate_dir);
  int failures = 0;
  for (const auto& path : a.images) {
    auto img = image::load(path);
    if (!img) {
      failures += fail(img.error().message);
      continue;
    }
    const detect::ImageView view{img->data, img->cols, img->rows, img->step, detect::ChannelOrder::bgr};
    auto out = detector->detect(view, opts);
    if (!out) {
      failures += fail(out.error().message);
      continue;
    }
    nlohmann::json j{{"image", path},
                     {"width", img->cols},
                     {"height", img->rows},
                     {"model", m.path.string()},
                     {"engine", detect::to_string(m.engine)},
                     {"inference_ms", round_to(out->times.inference_ms, 100)},
                     {"preprocess_ms", round_to(out->times.preprocess_ms, 100)},
                     {"postprocess_ms", round_to(out->times.postprocess_ms, 100)},
                     {"detections", nlohmann::json::array()}};
    for (const auto& d : out->detections) j["detections"].push_back(detection_json(m, d));
    fmt::print("{}\n", j.dump());
    if (!a.annotate_dir.empty()) {
      annotate(*img, m, out->detections);
      const auto dest = std::filesystem::path(a.annotate_dir) / std::filesystem::path(path).filename();
      if (!cv::imwrite(dest.string(), *img)) failures += fail("cannot write " + dest.string());
    }
  }
  return failures == 0 ? 0 : 1;
}

int run_inspect_model(const ModelArgs& a, bool json) {
  auto detector = detect::Detector::open(model_options(a));
  if (!detector) return fail(detector.error().message);
  const auto& m = detector->info();
  const auto& p = m.preprocessing;
  nlohmann::json shapes = nlohmann::json::array();
  for (const auto& s : m.output_shapes) shapes.push_back(s);
  nlohmann::json j{{"model", m.path.string()},
                   {"engine", detect::to_string(m.engine)},
                   {"layout", detect::to_string(m.layout)},
                   {"input",
                    {{"name", m.input_name},
                     {"width", m.input_width},
                     {"height", m.input_height},
                     {"dynamic_batch", m.dynamic_batch}}},
                   {"outputs", m.output_names},
                   {"output_shapes", shapes},
                   {"classes", m.num_classes},
                   {"names", m.names},
                   {"task", m.task},
                   {"preprocessing",
                    {{"channels", p.rgb ? "RGB" : "BGR"},
                     {"scale", p.scale},
                     {"resize", p.letterbox ? (p.centered ? "letterbox, centred" : "letterbox, top-left") : "stretch"},
                     {"pad", p.pad_value}}},
                   {"notes", m.notes}};
  if (json) {
    fmt::print("{}\n", j.dump(2));
    return 0;
  }
  fmt::print("model    {}\nengine   {}\nlayout   {}\ninput    {} {}x{}{}\n", m.path.string(),
             detect::to_string(m.engine), detect::to_string(m.layout), m.input_name, m.input_width, m.input_height,
             m.dynamic_batch ? " (dynamic batch)" : "");
  for (std::size_t i = 0; i < m.output_shapes.size(); ++i) {
    fmt::print("output   {} {}\n", i < m.output_names.size() ? m.output_names[i] : "?",
               nlohmann::json(m.output_shapes[i]).dump());
  }
  fmt::print("classes  {} ({}{})\n", m.num_classes, m.names.empty() ? "" : m.names.front(),
             m.names.size() > 1 ? ", ..." : "");
  fmt::print("preproc  {}\n", detect::to_string(p));
  for (const auto& n : m.notes) fmt::print("note     {}\n", n);
  return 0;
}

}  // namespace

void add_detect_commands(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<DetectArgs>();
  auto* cmd = app.add_subcommand("detect", "Detect objects in images; one JSON line per image");
  add_model_options(cmd, a->model);
  cmd->add_option("images", a->images, "Images (JPEG, PNG, BMP)")->required();
  cmd->add_option("--conf", a->conf, "Confidence threshold")->check(finite_range(0.0, 1.0));
  cmd->add_option("--iou", a->iou, "NMS IoU threshold")->check(finite_range(0.0, 1.0));
  cmd->add_option("--classes", a->classes, "Keep only these classes (names or ids)")->delimiter(',');
  cmd->add_option("--max-det", a->max_det, "Most detections per image")->check(CLI::Range(1, 100000));
  cmd->add_option("--annotate", a->annotate_dir, "Write copies with boxes and labels drawn into this directory");
  cmd->callback([a, &exit_code] { exit_code = run_detect(*a); });

  auto models = app.add_subcommand("models", "Model tools");
  models->require_subcommand(1);
  auto m = std::make_shared<ModelArgs>();
  auto json = std::make_shared<bool>(false);
  auto* inspect = models->add_subcommand("inspect", "Show what the loader finds in a model");
  inspect->add_option("model", m->model, "Model file")->required();
  inspect->add_option("--engine", m->engine, "Inference engine")->check(CLI::IsMember({"ort", "opencv"}));
  inspect->add_option("--layout", m->layout, "Output layout when it cannot be inferred")
      ->check(CLI::IsMember(detect::layout_names_and_aliases()));
  inspect->add_option("--names", m->names, "Class names file");
  inspect->add_flag("--json", *json, "Print JSON");
  inspect->callback([m, json, &exit_code] { exit_code = run_inspect_model(*m, *json); });
  models->add_subcommand("layouts", "List the output layouts the loader knows (the table in docs/models.md)")
      ->callback([] { fmt::print("{}", detect::layout_table_markdown()); });
}

}  // namespace shmyolo::cli
