// The detector on real COCO models and real photos: every model in the
// shared test data finds what its README lists, with boxes agreeing at
// IoU >= 0.9 (README boxes are [x, y, w, h] in original pixels).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <shmyolo/detect/detector.hpp>
#include <shmyolo/image/image_file.hpp>

#include "onnx_writer.hpp"
#include "test_support.hpp"

using namespace shmyolo::detect;

namespace {

std::filesystem::path shared_path() {
  return shmyolo::test::shared_dir();
}

struct Expected {
  const char* name;
  float score;
  float x, y, w, h;
};

struct Case {
  const char* label;
  const char* model;  // relative to shared/models
  Engine engine;
  const char* image;  // relative to shared/media
  std::vector<Expected> expected;
  float score_tolerance = 0.03F;  // README scores vs ours; the int8 models run activations quantised
};

int class_id(const std::string& name) {
  const auto& names = coco_names();
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<int>(i);
  }
  return -1;
}

// Detections this close to the 0.25 threshold may fall either side of it
// between engines; both lists are compared above this score.
constexpr float kCompareAbove = 0.3F;

void expect_matches(const Case& c, const std::vector<Detection>& got) {
  std::vector<bool> used(got.size(), false);
  for (const auto& e : c.expected) {
    if (e.score < kCompareAbove) continue;
    const Box want{e.x, e.y, e.x + e.w, e.y + e.h};
    int best = -1;
    float best_iou = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
      if (used[i] || got[i].class_id != class_id(e.name)) continue;
      const float v = iou(want, got[i].box);
      if (v > best_iou) {
        best_iou = v;
        best = static_cast<int>(i);
      }
    }
    ASSERT_GE(best, 0) << c.label << ": no " << e.name << " found near [" << e.x << "," << e.y << "," << e.w << ","
                       << e.h << "]";
    used[static_cast<std::size_t>(best)] = true;
    EXPECT_GE(best_iou, 0.9F) << c.label << ": " << e.name << " box IoU " << best_iou;
    EXPECT_NEAR(got[static_cast<std::size_t>(best)].score, e.score, c.score_tolerance) << c.label << ": " << e.name;
  }
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (!used[i] && got[i].score >= kCompareAbove + c.score_tolerance) {
      ADD_FAILURE() << c.label << ": unexpected " << coco_names()[static_cast<std::size_t>(got[i].class_id)] << " "
                    << got[i].score << " at [" << got[i].box.x1 << "," << got[i].box.y1 << "," << got[i].box.x2 << ","
                    << got[i].box.y2 << "]";
    }
  }
}

std::vector<Detection> run_detector(const std::string& model, Engine engine, const std::string& image) {
  auto detector = Detector::open({.path = shared_path() / "models" / model, .engine = engine});
  EXPECT_TRUE(detector) << detector.error().message;
  if (!detector) return {};
  auto img = shmyolo::image::load(shared_path() / "media" / image);
  EXPECT_TRUE(img) << img.error();
  if (!img) return {};
  const ImageView view{img->data, img->cols, img->rows, img->step, ChannelOrder::bgr};
  auto out = detector->detect(view, {});
  EXPECT_TRUE(out) << out.error().message;
  return out ? out->detections : std::vector<Detection>{};
}

// The expected detections, copied from shared/models/README.md.
std::vector<Case> cases() {
  const auto ort = Engine::onnxruntime;
  const auto cv = Engine::opencv;
  const char* v8 = "yolov8n/yolov8n_fp32_from_int8.onnx";
  const char* v8q = "yolov8n/yolov8n_int8_dynamic.onnx";
  const char* v5 = "yolov5n/yolov5n.onnx";
  const char* x = "yolox-nano/yolox_nano.onnx";
  const char* y11 = "yolo11n-320/yolo11n_320_fp32_from_int8.onnx";
  const char* y11q = "yolo11n-320/yolo11n_320_int8_dynamic.onnx";
  const char* fxl = "yolo-fastest-1.1-xl/yolo-fastest-1.1-xl.cfg";
  const char* f11 = "yolo-fastest-1.1/yolo-fastest-1.1.cfg";
  const char* fv2 = "yolo-fastestv2/yolo-fastestv2.onnx";
  const std::vector<Expected> v8_dog{{"dog", .956F, 131, 219, 177, 321},
                                     {"bicycle", .887F, 131, 137, 437, 283},
                                     {"car", .607F, 468, 74, 226, 96},
                                     {"truck", .512F, 467, 75, 226, 97}};
  const std::vector<Expected> v8_person{
      {"person", .943F, 191, 100, 84, 276}, {"horse", .922F, 406, 139, 194, 208}, {"dog", .911F, 64, 265, 141, 79}};
  const std::vector<Expected> v8_horses{{"horse", .884F, 435, 211, 162, 138},
                                        {"horse", .876F, 1, 194, 316, 218},
                                        {"horse", .675F, 0, 187, 152, 94},
                                        {"horse", .562F, 244, 198, 215, 166},
                                        {"horse", .254F, 0, 188, 152, 209}};
  const std::vector<Expected> y11_dog{{"dog", .821F, 130, 201, 180, 342},
                                      {"bicycle", .694F, 131, 137, 433, 289},
                                      {"car", .665F, 463, 78, 234, 92},
                                      {"truck", .419F, 462, 74, 231, 95}};
  const std::vector<Expected> y11_person{
      {"horse", .871F, 405, 138, 197, 204}, {"person", .835F, 192, 100, 81, 275}, {"dog", .819F, 66, 263, 135, 87}};
  const std::vector<Expected> y11_horses{{"horse", .827F, 3, 195, 316, 214},   {"horse", .520F, -1, 184, 155, 103},
                                         {"horse", .413F, 435, 215, 159, 133}, {"cow", .411F, 436, 214, 159, 135},
                                         {"horse", .331F, 252, 200, 170, 163}, {"cow", .297F, 253, 201, 171, 162}};
  const std::vector<Expected> v5_dog{{"dog", .763F, 132, 215, 181, 331},
                                     {"car", .705F, 468, 80, 221, 89},
                                     {"bicycle", .485F, 208, 135, 367, 300},
                                     {"bicycle", .339F, 140, 143, 119, 73}};
  const std::vector<Expected> v5_person{
      {"person", .922F, 191, 100, 84, 273}, {"dog", .846F, 63, 264, 140, 86}, {"horse", .796F, 403, 137, 200, 210}};
  const std::vector<Expected> v5_horses{{"horse", .888F, 436, 213, 162, 133},
                                        {"horse", .661F, 0, 191, 305, 221},
                                        {"horse", .604F, 254, 200, 184, 166},
                                        {"horse", .573F, -3, 187, 155, 95}};
  return {
      {"yolox-nano dog",
       x,
       ort,
       "dog.jpg",
       {{"dog", .855F, 133, 207, 193, 336},
        {"bicycle", .803F, 52, 137, 521, 286},
        {"car", .798F, 466, 78, 226, 93},
        {"truck", .306F, 464, 78, 219, 95},
        {"cat", .260F, 131, 213, 191, 328}}},
      {"yolox-nano person",
       x,
       ort,
       "person.jpg",
       {{"person", .881F, 189, 97, 88, 276}, {"horse", .880F, 403, 138, 200, 207}, {"dog", .875F, 61, 264, 140, 86}}},
      {"yolox-nano horses",
       x,
       ort,
       "horses.jpg",
       {{"horse", .821F, -1, 187, 339, 224},
        {"horse", .624F, 239, 171, 200, 191},
        {"horse", .588F, 440, 212, 158, 136},
        {"cow", .479F, 437, 213, 161, 133},
        {"horse", .280F, 0, 189, 160, 194}}},
      {"yolov5n dog", v5, ort, "dog.jpg", v5_dog},
      {"yolov5n person", v5, ort, "person.jpg", v5_person},
      {"yolov5n horses", v5, ort, "horses.jpg", v5_horses},
      {"yolov5n dog (OpenCV)", v5, cv, "dog.jpg", v5_dog},
      {"yolov5n person (OpenCV)", v5, cv, "person.jpg", v5_person},
      {"yolov5n horses (OpenCV)", v5, cv, "horses.jpg", v5_horses},
      {"yolov8n dog", v8, ort, "dog.jpg", v8_dog},
      {"yolov8n person", v8, ort, "person.jpg", v8_person},
      {"yolov8n horses", v8, ort, "horses.jpg", v8_horses},
      {"yolov8n dog (OpenCV)", v8, cv, "dog.jpg", v8_dog},
      {"yolov8n int8 dog", v8q, ort, "dog.jpg", v8_dog, 0.05F},
      {"yolov8n int8 person", v8q, ort, "person.jpg", v8_person, 0.05F},
      {"yolov8n int8 horses", v8q, ort, "horses.jpg", v8_horses, 0.05F},
      {"yolo11n-320 dog", y11, ort, "dog.jpg", y11_dog},
      {"yolo11n-320 person", y11, ort, "person.jpg", y11_person},
      {"yolo11n-320 horses", y11, ort, "horses.jpg", y11_horses},
      {"yolo11n-320 person (OpenCV)", y11, cv, "person.jpg", y11_person},
      {"yolo11n-320 int8 dog", y11q, ort, "dog.jpg", y11_dog, 0.05F},
      {"yolo11n-320 int8 person", y11q, ort, "person.jpg", y11_person, 0.05F},
      {"yolo11n-320 int8 horses", y11q, ort, "horses.jpg", y11_horses, 0.05F},
      {"yolo-fastest-1.1-xl dog",
       fxl,
       cv,
       "dog.jpg",
       {{"dog", .958F, 114, 188, 272, 347},
        {"bicycle", .894F, 113, 127, 460, 371},
        {"car", .841F, 450, 78, 235, 84},
        {"truck", .256F, 455, 66, 206, 92}}},
      {"yolo-fastest-1.1-xl person",
       fxl,
       cv,
       "person.jpg",
       {{"person", .995F, 188, 103, 84, 260}, {"dog", .981F, 58, 252, 149, 102}, {"cow", .969F, 389, 143, 220, 191}}},
      {"yolo-fastest-1.1-xl horses",
       fxl,
       cv,
       "horses.jpg",
       {{"cow", .878F, 439, 208, 157, 142},
        {"horse", .820F, 32, 190, 293, 206},
        {"horse", .615F, 240, 171, 180, 201},
        {"horse", .475F, 1, 194, 138, 89},
        {"cow", .458F, 273, 178, 169, 184},
        {"horse", .306F, 32, 181, 124, 70}}},
      {"yolo-fastest-1.1 dog",
       f11,
       cv,
       "dog.jpg",
       {{"car", .897F, 454, 76, 231, 104},
        {"dog", .654F, 123, 221, 242, 295},
        {"cat", .567F, 113, 212, 257, 305},
        {"bicycle", .529F, 243, 187, 346, 235},
        {"car", .444F, 690, 117, 39, 38},
        {"bicycle", .313F, 81, 176, 365, 314},
        {"person", .312F, 64, 73, 50, 45}}},
      {"yolo-fastest-1.1 person",
       f11,
       cv,
       "person.jpg",
       {{"person", .986F, 182, 88, 88, 293}, {"dog", .853F, 74, 260, 139, 93}, {"sheep", .774F, 420, 141, 163, 179}}},
      {"yolo-fastest-1.1 horses",
       f11,
       cv,
       "horses.jpg",
       {{"horse", .835F, 414, 214, 186, 130},
        {"horse", .788F, -6, 182, 380, 234},
        {"cow", .627F, -2, 204, 348, 191},
        {"horse", .583F, 227, 184, 210, 197},
        {"horse", .304F, 74, 192, 106, 51}}},
      {"yolo-fastestv2 dog",
       fv2,
       ort,
       "dog.jpg",
       {{"dog", .861F, 122, 197, 212, 359},
        {"car", .677F, 449, 72, 237, 97},
        {"bicycle", .472F, 144, 186, 425, 257},
        {"car", .400F, 65, 77, 38, 44}}},
      {"yolo-fastestv2 person",
       fv2,
       ort,
       "person.jpg",
       {{"dog", .865F, 65, 263, 143, 93}, {"person", .778F, 187, 98, 93, 256}, {"sheep", .729F, 401, 141, 205, 202}}},
      {"yolo-fastestv2 horses",
       fv2,
       ort,
       "horses.jpg",
       {{"cow", .815F, 433, 210, 164, 141},
        {"horse", .524F, -7, 176, 317, 231},
        {"cow", .490F, 236, 198, 197, 167},
        {"horse", .433F, 219, 178, 212, 206},
        {"horse", .368F, 1, 179, 202, 126},
        {"zebra", .304F, 21, 184, 133, 68},
        {"elephant", .281F, 238, 185, 193, 187}}},
  };
}

class ReadmeDetections : public ::testing::TestWithParam<Case> {};

TEST_P(ReadmeDetections, MatchClassesAndBoxes) {
  ASSERT_TRUE(std::filesystem::is_directory(shared_path() / "models"))
      << "the test data is missing: " << shared_path() << " (set -DSHMYOLO_SHARED_DIR=...)";
  const Case& c = GetParam();
  expect_matches(c, run_detector(c.model, c.engine, c.image));
}

INSTANTIATE_TEST_SUITE_P(Models, ReadmeDetections, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& param_info) {
                           std::string name = param_info.param.label;
                           for (char& ch : name) ch = std::isalnum(static_cast<unsigned char>(ch)) != 0 ? ch : '_';
                           return name;
                         });

TEST(Engines, OnnxRuntimeAndOpenCvAgreeOnYolov5n) {
  for (const char* image : {"dog.jpg", "person.jpg", "horses.jpg"}) {
    const auto a = run_detector("yolov5n/yolov5n.onnx", Engine::onnxruntime, image);
    const auto b = run_detector("yolov5n/yolov5n.onnx", Engine::opencv, image);
    ASSERT_EQ(a.size(), b.size()) << image;
    for (std::size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].class_id, b[i].class_id) << image;
      EXPECT_GE(iou(a[i].box, b[i].box), 0.95F) << image << " detection " << i;
      EXPECT_NEAR(a[i].score, b[i].score, 0.01F) << image;
    }
  }
}

TEST(Engines, OpenCvRunsAttentionModelsUnfused) {
  auto d = Detector::open(
      {.path = shared_path() / "models/yolo11n-320/yolo11n_320_fp32_from_int8.onnx", .engine = Engine::opencv});
  ASSERT_TRUE(d) << d.error().message;
  bool noted = false;
  for (const auto& n : d->info().notes) noted = noted || n.find("fusion off") != std::string::npos;
  EXPECT_TRUE(noted);
}

TEST(Model, MetadataGivesNamesSizeAndLayout) {
  auto d = Detector::open({.path = shared_path() / "models/yolov8n/yolov8n_int8_dynamic.onnx"});
  ASSERT_TRUE(d) << d.error().message;
  const auto& m = d->info();
  EXPECT_EQ(m.layout, OutputLayout::yolov8);
  EXPECT_EQ(m.input_width, 640);
  EXPECT_EQ(m.num_classes, 80);
  ASSERT_EQ(m.names.size(), 80U);
  EXPECT_EQ(m.names[16], "dog");
  EXPECT_EQ(m.task, "detect");
  auto x = Detector::open({.path = shared_path() / "models/yolox-nano/yolox_nano.onnx"});
  ASSERT_TRUE(x);
  EXPECT_EQ(x->info().layout, OutputLayout::yolox);
  EXPECT_EQ(x->info().input_width, 416);
  EXPECT_FALSE(x->info().preprocessing.rgb);
  EXPECT_FALSE(x->info().preprocessing.centered);
}

TEST(Model, ClassFilterKeepsOnlyThoseClasses) {
  auto d = Detector::open({.path = shared_path() / "models/yolov5n/yolov5n.onnx"});
  ASSERT_TRUE(d);
  auto img = shmyolo::image::load(shared_path() / "media/dog.jpg").value();
  const ImageView view{img.data, img.cols, img.rows, img.step, ChannelOrder::bgr};
  auto out = d->detect(view, {.classes = {16}});
  ASSERT_TRUE(out);
  ASSERT_EQ(out->detections.size(), 1U);
  EXPECT_EQ(out->detections[0].class_id, 16);
}

// A model that fails at run time, on batches of two: an error with its code
// and the engine's reason in one line, never an empty list of detections.
TEST(Detector, AFailingRunIsAnErrorNotNoDetections) {
  const auto path = std::filesystem::temp_directory_path() / ("shmyolo-failing-" + std::to_string(getpid()) + ".onnx");
  { std::ofstream(path, std::ios::binary) << shmyolo::test::batch_failing_onnx(); }
  auto d = Detector::open({.path = path});
  std::filesystem::remove(path);
  ASSERT_TRUE(d) << d.error().message;
  auto img = shmyolo::image::load(shared_path() / "media/dog.jpg").value();
  const ImageView view{img.data, img.cols, img.rows, img.step, ChannelOrder::bgr};
  EXPECT_TRUE(d->detect(view, {}));
  const std::vector<ImageView> two{view, view};
  const auto out = d->detect_batch(two, {});
  ASSERT_FALSE(out) << out->size() << " outputs";
  EXPECT_EQ(out.error().code, shmyolo::detect::DetectErrc::inference_failed) << out.error();
  EXPECT_EQ(out.error().message.find('\n'), std::string::npos) << out.error();
}

TEST(Batch, DynamicBatchGivesWhatOneByOneGives) {
  const auto path = std::filesystem::temp_directory_path() / "shmyolo-batch-test.onnx";
  { std::ofstream(path, std::ios::binary) << shmyolo::test::reshape_batch_onnx(); }
  auto d = Detector::open({.path = path});
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_TRUE(d->info().dynamic_batch);
  EXPECT_EQ(d->info().layout, OutputLayout::yolov8);
  EXPECT_EQ(d->info().num_classes, 2);
  auto a = shmyolo::image::load(shared_path() / "media/dog.jpg").value();
  auto b = shmyolo::image::load(shared_path() / "media/horses.jpg").value();
  const std::vector<ImageView> views{{a.data, a.cols, a.rows, a.step, ChannelOrder::bgr},
                                     {b.data, b.cols, b.rows, b.step, ChannelOrder::bgr}};
  const DetectOptions opts{.confidence = 8.0F};  // scores are pixels x 32 here
  auto batch = d->detect_batch(views, opts);
  ASSERT_TRUE(batch) << batch.error().message;
  ASSERT_EQ(batch->size(), 2U);
  for (std::size_t i = 0; i < 2; ++i) {
    auto one = d->detect(views[i], opts);
    ASSERT_TRUE(one);
    ASSERT_FALSE(one->detections.empty());
    ASSERT_EQ((*batch)[i].detections.size(), one->detections.size()) << "image " << i;
    for (std::size_t k = 0; k < one->detections.size(); ++k) {
      EXPECT_EQ((*batch)[i].detections[k].class_id, one->detections[k].class_id);
      EXPECT_FLOAT_EQ((*batch)[i].detections[k].score, one->detections[k].score);
    }
  }
  std::filesystem::remove(path);
}

TEST(Batch, FixedBatchModelRefusesSeveralImages) {
  auto d = Detector::open({.path = shared_path() / "models/yolox-nano/yolox_nano.onnx"});
  ASSERT_TRUE(d);
  auto a = shmyolo::image::load(shared_path() / "media/dog.jpg").value();
  const ImageView v{a.data, a.cols, a.rows, a.step, ChannelOrder::bgr};
  const std::vector<ImageView> two{v, v};
  auto r = d->detect_batch(two, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, DetectErrc::bad_input);
}

}  // namespace
