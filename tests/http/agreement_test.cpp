// The same boxes whichever way a picture reaches the model: `shmyolo detect`
// on the file, a camera's frame through the pipeline (its JSON line), and
// POST /v1/detect, for a model that letterboxes and for models that stretch,
// with and without a region of interest; and the live view draws a frame's
// boxes where its JSON line puts them.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "http_service.hpp"
#include "test_support.hpp"

namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const std::string kShared = shmyolo::test::shared_dir();
const std::string kPhoto = kShared + "/media/dog.jpg";  // 768x576: not square, so a stretch differs per axis

struct Roi {
  int x, y, width, height;
};

struct Case {
  const char* name;
  std::string model;
  std::string engine;
  std::optional<Roi> roi;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

// `shmyolo detect` on one file: its detections.
json detect_cli(const Case& c, const std::string& file) {
  const auto r =
      shmyolo::test::run({shmyolo::test::shmyolo_bin(), "detect", "--model", c.model, "--engine", c.engine, file});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const json out = json::parse(r.output, nullptr, false);
  return out.is_discarded() ? json::array() : out["detections"];
}

// What `shmyolo detect` finds in the region of interest, in the whole
// photo's pixels: the crop saved losslessly, detected, boxes moved back.
json detect_cli_in(const Case& c, const std::filesystem::path& dir) {
  if (!c.roi) return detect_cli(c, kPhoto);
  const Roi& r = *c.roi;
  const auto crop = dir / "crop.png";
  cv::imwrite(crop.string(), cv::imread(kPhoto)(cv::Rect(r.x, r.y, r.width, r.height)));
  json found = detect_cli(c, crop.string());
  for (auto& d : found) {
    auto& b = d["box"];
    b = {b[0].get<double>() + r.x, b[1].get<double>() + r.y, b[2].get<double>() + r.x, b[3].get<double>() + r.y};
  }
  return found;
}

double iou(const json& a, const json& b) {
  const double ix = std::max(
      0.0, std::min(a[2].get<double>(), b[2].get<double>()) - std::max(a[0].get<double>(), b[0].get<double>()));
  const double iy = std::max(
      0.0, std::min(a[3].get<double>(), b[3].get<double>()) - std::max(a[1].get<double>(), b[1].get<double>()));
  const auto area = [](const json& x) {
    return (x[2].get<double>() - x[0].get<double>()) * (x[3].get<double>() - x[1].get<double>());
  };
  const double inter = ix * iy;
  return inter / (area(a) + area(b) - inter);
}

// Same classes, and each expected box matched by one of its class at IoU >= 0.99.
void expect_same(const json& expected, const json& got, const std::string& where) {
  ASSERT_FALSE(expected.empty()) << where << ": the reference found nothing; the photo should have objects";
  EXPECT_EQ(shmyolo::test::classes_of(got), shmyolo::test::classes_of(expected))
      << where << "\n got " << got << "\n expected " << expected;
  for (const auto& e : expected) {
    double best = 0;
    for (const auto& g : got) {
      if (g["class_id"] == e["class_id"]) best = std::max(best, iou(g["box"], e["box"]));
    }
    EXPECT_GE(best, 0.99) << where << ": " << e << "\n got " << got;
  }
}

json wait_for_line(const std::filesystem::path& jsonl) {
  for (const auto until = std::chrono::steady_clock::now() + 60s; std::chrono::steady_clock::now() < until;
       std::this_thread::sleep_for(50ms)) {
    std::ifstream in(jsonl);
    std::string line;
    if (std::getline(in, line) && in.good()) return json::parse(line);  // a complete line
  }
  ADD_FAILURE() << "no JSON line in " << jsonl;
  return {};
}

// The live view's tile is the slot's picture without padding. Drawn pixels are
// where it differs from the photo's picture at the tile's size; every box of the
// frame's JSON line, mapped from photo pixels into the tile, must lie on them.
void expect_overlay_on_boxes(httplib::Client& c, const Case& k, const json& line) {
  const auto r = c.Get("/v1/cameras/photos/latest.jpg");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  ASSERT_EQ(r->get_header_value("X-Shmyolo-Boxes-Frame"), std::to_string(line["seq"].get<int>()));
  const std::vector<std::uint8_t> bytes(r->body.begin(), r->body.end());
  const cv::Mat tile = cv::imdecode(bytes, cv::IMREAD_COLOR);
  ASSERT_FALSE(tile.empty());
  const Roi roi = k.roi.value_or(Roi{0, 0, 768, 576});
  cv::Mat picture;
  cv::resize(cv::imread(kPhoto)(cv::Rect(roi.x, roi.y, roi.width, roi.height)), picture, tile.size(), 0, 0,
             cv::INTER_AREA);
  cv::Mat diff;
  cv::absdiff(tile, picture, diff);
  cv::Mat drawn;
  cv::transform(diff, drawn, cv::Matx13f(1, 1, 1));  // sum over the channels
  const double sx = static_cast<double>(tile.cols) / roi.width;
  const double sy = static_cast<double>(tile.rows) / roi.height;
  for (const auto& d : line["detections"]) {
    const auto& b = d["box"];
    const int x1 = static_cast<int>(std::lround((b[0].get<double>() - roi.x) * sx));
    const int y1 = static_cast<int>(std::lround((b[1].get<double>() - roi.y) * sy));
    const int x2 = static_cast<int>(std::lround((b[2].get<double>() - roi.x) * sx));
    const int y2 = static_cast<int>(std::lround((b[3].get<double>() - roi.y) * sy));
    // The middle of the left, right and bottom edges: the label sits on the top one.
    const std::array<cv::Point, 3> edges{cv::Point(x1, (y1 + y2) / 2), cv::Point(x2, (y1 + y2) / 2),
                                         cv::Point((x1 + x2) / 2, y2)};
    for (const auto& at : edges) {
      const cv::Rect near = cv::Rect(at.x - 2, at.y - 2, 5, 5) & cv::Rect(0, 0, tile.cols, tile.rows);
      double most = 0;
      if (!near.empty()) cv::minMaxLoc(drawn(near), nullptr, &most);
      EXPECT_GT(most, 150) << k.name << ": no box edge drawn at " << at << " for " << d;
    }
  }
}

class Agreement : public ::testing::TestWithParam<Case> {};

TEST_P(Agreement, DetectCameraFrameAndUploadGiveTheSameBoxes) {
  const Case& k = GetParam();
  const shmyolo::test::TempShmDir shm;
  const shmyolo::test::TempShmDir dir;  // the photo folder, the config and the outputs
  std::filesystem::create_directories(dir.path() / "photos");
  std::filesystem::copy_file(kPhoto, dir.path() / "photos" / "dog.jpg");
  const auto jsonl = dir.path() / "out.jsonl";
  std::string roi;
  if (k.roi) {
    roi = ", roi: {x: " + std::to_string(k.roi->x) + ", y: " + std::to_string(k.roi->y) +
          ", width: " + std::to_string(k.roi->width) + ", height: " + std::to_string(k.roi->height) + "}";
  }
  const auto config = dir.path() / "pipeline.yaml";
  std::ofstream(config) << "name: agree\nshm_dir: " << shm.path().string() << "\nmodel: {path: " << k.model
                        << ", engine: " << k.engine << "}\nworkers: {count: 1}\nhttp: {port: 0}\n"
                        << "cameras: [{name: photos, source: " << (dir.path() / "photos").string()
                        << ", fps: 0, delivery: queue" << roi << "}]\n"
                        << "outputs: {jsonl: " << jsonl.string() << "}\n";
  shmyolo::test::Service service({config.string()});
  auto c = service.client();

  const json line = wait_for_line(jsonl);
  expect_same(detect_cli_in(k, dir.path()), line["detections"], std::string(k.name) + ", camera frame");
  int status = 0;
  const json upload = shmyolo::test::post_image(c, shmyolo::test::read_file(kPhoto), "image/jpeg", "", &status);
  ASSERT_EQ(status, 200) << upload;
  expect_same(detect_cli(k, kPhoto), upload["detections"], std::string(k.name) + ", upload");
  expect_overlay_on_boxes(c, k, line);
  EXPECT_EQ(service.stop().first, 0);
  EXPECT_TRUE(shm.entries().empty());
}

const Roi kRoi{100, 60, 560, 480};  // a crop off the photo's centre, of another aspect

INSTANTIATE_TEST_SUITE_P(
    Models, Agreement,
    ::testing::Values(
        Case{"yolov8n_letterbox", kShared + "/models/yolov8n/yolov8n_fp32_from_int8.onnx", "ort", std::nullopt},
        Case{"yolov8n_letterbox_roi", kShared + "/models/yolov8n/yolov8n_fp32_from_int8.onnx", "ort", kRoi},
        Case{"yolo_fastestv2_stretch", kShared + "/models/yolo-fastestv2/yolo-fastestv2.onnx", "ort", std::nullopt},
        Case{"yolo_fastestv2_stretch_roi", kShared + "/models/yolo-fastestv2/yolo-fastestv2.onnx", "ort", kRoi},
        Case{"yolo_fastest_darknet_stretch", kShared + "/models/yolo-fastest-1.1/yolo-fastest-1.1.cfg", "opencv",
             std::nullopt},
        Case{"yolo_fastest_darknet_stretch_roi", kShared + "/models/yolo-fastest-1.1/yolo-fastest-1.1.cfg", "opencv",
             kRoi}),
    [](const ::testing::TestParamInfo<Case>& p) { return std::string(p.param.name); });

}  // namespace
