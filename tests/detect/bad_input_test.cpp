// `shmyolo detect` and `models inspect` given bad models and bad images: one
// clear line on stderr, a non-zero exit, never a crash.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "onnx_writer.hpp"
#include "test_support.hpp"

#include <unistd.h>

using namespace shmyolo::test;

namespace {

std::filesystem::path shared_path() {
  return shmyolo::test::shared_dir();
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void expect_one_line_error(const RunResult& r, const std::string& needle) {
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find(needle), std::string::npos) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  EXPECT_EQ(r.output.rfind("shmyolo: ", 0), 0U) << r.output;
}

RunResult detect_with(const std::filesystem::path& model, const std::filesystem::path& image) {
  return run({shmyolo_bin(), "detect", "--model", model.string(), image.string()});
}

const std::filesystem::path kGoodModel = shared_path() / "models/yolov5n/yolov5n.onnx";
const std::filesystem::path kGoodImage = shared_path() / "media/dog.jpg";

}  // namespace

TEST(BadModel, MissingFile) {
  expect_one_line_error(detect_with("/nonexistent/model.onnx", kGoodImage), "does not exist");
}

TEST(BadModel, NotAnOnnxFile) {
  TempDir dir;
  expect_one_line_error(
      detect_with(dir.write("notes.onnx", "these are not the weights you are looking for\n"), kGoodImage),
      "cannot load model");
}

TEST(BadModel, TruncatedOnnxFile) {
  TempDir dir;
  const std::string whole = read_file(kGoodModel);
  const auto cut = dir.write("cut.onnx", whole.substr(0, whole.size() / 3));
  expect_one_line_error(detect_with(cut, kGoodImage), "cannot load model");
}

TEST(BadModel, UnknownOutputLayout) {
  TempDir dir;
  const auto model = dir.write("identity.onnx", identity_onnx());
  expect_one_line_error(detect_with(model, kGoodImage), "is not a known YOLO detection layout");
  expect_one_line_error(run({shmyolo_bin(), "models", "inspect", model.string()}), "--layout");
}

TEST(BadModel, OpenCvRefusesInt8WithAPointerToOnnxRuntime) {
  const auto r = run({shmyolo_bin(), "detect", "--engine", "opencv", "--model",
                      (shared_path() / "models/yolov8n/yolov8n_int8_dynamic.onnx").string(), kGoodImage.string()});
  expect_one_line_error(r, "--engine ort");
}

TEST(BadImage, UnreadableFile) {
  TempDir dir;
  expect_one_line_error(detect_with(kGoodModel, dir.write("x.jpg", "not an image at all")),
                        "is not a JPEG, PNG or BMP");
  expect_one_line_error(detect_with(kGoodModel, "/nonexistent/x.jpg"), "no such file");
}

TEST(BadImage, TruncatedJpeg) {
  TempDir dir;
  const std::string whole = read_file(kGoodImage);
  expect_one_line_error(detect_with(kGoodModel, dir.write("half.jpg", whole.substr(0, whole.size() / 2))),
                        "truncated JPEG");
}

TEST(BadImage, HeaderClaimsImpossibleSizes) {
  TempDir dir;
  // A real JPEG with its start-of-frame size fields rewritten.
  std::string jpeg = read_file(kGoodImage);
  const auto sof = jpeg.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  std::string zero = jpeg;
  zero.replace(sof + 5, 4, std::string("\0\0\0\0", 4));
  expect_one_line_error(detect_with(kGoodModel, dir.write("zero.jpg", zero)), "claims 0x0 pixels");
  std::string huge = jpeg;
  huge.replace(sof + 5, 4, "\xFF\xFF\xFF\xFF");  // 65535 x 65535
  expect_one_line_error(detect_with(kGoodModel, dir.write("huge.jpg", huge)), "refused before decoding");
}

TEST(Detect, JsonLinesAndAnnotatedCopies) {
  TempDir dir;
  const auto out_dir = dir.write("unused", "").parent_path() / "annotated";
  const auto r = run({shmyolo_bin(), "detect", "--model", kGoodModel.string(), "--annotate", out_dir.string(),
                      kGoodImage.string(), (shared_path() / "media/person.jpg").string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 2);
  EXPECT_NE(r.output.find("\"class\":\"dog\""), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\"inference_ms\""), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(out_dir / "dog.jpg"));
  EXPECT_TRUE(std::filesystem::exists(out_dir / "person.jpg"));
}

// --classes takes names or ids, like model.classes and the HTTP `classes` field.
TEST(Detect, ClassesByNameOrId) {
  const auto by_name =
      run({shmyolo_bin(), "detect", "--model", kGoodModel.string(), "--classes", "dog,car", kGoodImage.string()});
  ASSERT_EQ(by_name.exit_code, 0) << by_name.output;
  EXPECT_NE(by_name.output.find("\"class\":\"dog\""), std::string::npos) << by_name.output;
  EXPECT_EQ(by_name.output.find("\"class\":\"bicycle\""), std::string::npos) << by_name.output;
  const auto by_id =
      run({shmyolo_bin(), "detect", "--model", kGoodModel.string(), "--classes", "16,2", kGoodImage.string()});
  ASSERT_EQ(by_id.exit_code, 0) << by_id.output;
  // Same classes, same boxes (the detections array runs up to the "engine" key).
  const auto boxes = [](const std::string& out) {
    const auto from = out.find("\"detections\"");
    return out.substr(from, out.find("\"engine\"") - from);
  };
  EXPECT_EQ(boxes(by_name.output), boxes(by_id.output));
  expect_one_line_error(
      run({shmyolo_bin(), "detect", "--model", kGoodModel.string(), "--classes", "dgo", kGoodImage.string()}),
      "--classes: the model has no class \"dgo\"; did you mean \"dog\"?");
  expect_one_line_error(
      run({shmyolo_bin(), "detect", "--model", kGoodModel.string(), "--classes", "80", kGoodImage.string()}),
      "no class \"80\"");
}

// CLI11's Range lets NaN through; every floating-point option refuses it.
TEST(Detect, NonFiniteOptionsAreRefused) {
  for (const char* flag : {"--conf", "--iou"}) {
    for (const char* value : {"nan", "inf", "NaN"}) {
      const auto r = run({shmyolo_bin(), "detect", "--model", kGoodModel.string(), flag, value, kGoodImage.string()});
      EXPECT_NE(r.exit_code, 0) << flag << " " << value << ": " << r.output;
      EXPECT_NE(r.output.find("expected a finite number"), std::string::npos) << flag << " " << value << r.output;
    }
  }
  const auto r = run({shmyolo_bin(), "demo", "--fps", "nan", "--duration", "1"});
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("expected a finite number"), std::string::npos) << r.output;
}

// --names (and model.names) read a class list, never a device or a huge file.
TEST(BadModel, NamesFileMustBeASmallRegularFile) {
  TempDir dir;
  const auto big = dir.write("big.names", std::string(std::size_t{2} << 20, 'x'));
  for (const auto& [names, says] :
       std::vector<std::pair<std::string, std::string>>{{"/dev/zero", "is not a regular file"},
                                                        {big.string(), "is over 1 MiB"},
                                                        {"/nonexistent/coco.names", "check the path"}}) {
    expect_one_line_error(
        run({shmyolo_bin(), "detect", "--model", kGoodModel.string(), "--names", names, kGoodImage.string()}), says);
  }
}

// Usage mistakes: exit 2, one line naming the bad word and the nearest right one.
TEST(Cli, UsageMistakesNameTheWordAndSuggestTheNearest) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{shmyolo_bin(), "dmeo"}, "unknown command \"dmeo\"; did you mean \"demo\"? (see shmyolo --help)"},
      {{shmyolo_bin(), "models", "layuots"}, "unknown command \"layuots\"; did you mean \"layouts\"?"},
      {{shmyolo_bin(), "detect", "--confidence", "0.3", "x.jpg", "--model", "m.onnx"},
       "unknown option \"--confidence\"; did you mean \"--conf\"?"},
      {{shmyolo_bin(), "demo", "--duration", "abc"}, "expected a finite number, got \"abc\""},
      {{shmyolo_bin(), "token", "new", "--nmae", "x"},
       "unknown option \"--nmae\"; did you mean \"--name\"? (see shmyolo token new --help)"},
  };
  for (const auto& [argv, says] : cases) {
    const auto r = run(argv);
    EXPECT_EQ(r.exit_code, 2) << argv[1] << ": " << r.output;
    EXPECT_NE(r.output.find(says), std::string::npos) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_EQ(r.output.rfind("shmyolo: ", 0), 0U) << r.output;
  }
  const auto help = run({shmyolo_bin(), "detect", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("0.25"), std::string::npos) << "--help shows defaults:\n" << help.output;
}
