// Letterbox geometry, decoders, NMS and image headers on hand-made inputs.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include <shmyolo/detect/decode.hpp>
#include <shmyolo/detect/letterbox.hpp>
#include <shmyolo/image/image_file.hpp>

#include "../../src/detect/model_probe.hpp"

using namespace shmyolo::detect;

TEST(Letterbox, MatchesUltralyticsGeometry) {
  // 768x576 camera frame into 640: r = 0.8333, 640x480, 80 rows of padding above and below.
  const auto t = plan_letterbox(768, 576, 640, 640, Preprocessing{});
  EXPECT_EQ(t.resized_width, 640);
  EXPECT_EQ(t.resized_height, 480);
  EXPECT_EQ(t.pad_x, 0);
  EXPECT_EQ(t.pad_y, 80);
  const Box back = t.to_source(Box{0, 80, 640, 560}, 768, 576);
  EXPECT_NEAR(back.x2, 768, 1e-3);
  EXPECT_NEAR(back.y2, 576, 1e-3);
  Preprocessing yolox = preprocessing_for(OutputLayout::yolox);
  const auto tx = plan_letterbox(768, 576, 416, 416, yolox);
  EXPECT_EQ(tx.pad_x, 0);
  EXPECT_EQ(tx.pad_y, 0);  // top-left: padding only right and bottom
}

TEST(Letterbox, WritesChannelsScaledAndPadded) {
  // A 2x1 BGR image: blue then red; into a 4x4 RGB /255 tensor.
  const std::uint8_t px[] = {255, 0, 0, 0, 0, 255};
  ImageView img{px, 2, 1, 6, ChannelOrder::bgr};
  std::vector<float> t(std::size_t{3} * 16, -1.0F);
  Letterboxer lb;
  const auto tr = lb.run(img, 4, 4, Preprocessing{}, t.data());
  EXPECT_EQ(tr.resized_width, 4);
  EXPECT_EQ(tr.resized_height, 2);
  EXPECT_EQ(tr.pad_y, 1);
  const float pad = 114.0F / 255.0F;
  EXPECT_FLOAT_EQ(t[0], pad);            // R plane, padding row
  EXPECT_FLOAT_EQ(t[4 + 0], 0.0F);       // R of the blue pixel
  EXPECT_FLOAT_EQ(t[2 * 16 + 4], 1.0F);  // B of the blue pixel
  EXPECT_FLOAT_EQ(t[4 + 3], 1.0F);       // R of the red pixel
  for (float v : t) EXPECT_GE(v, 0.0F);
}

TEST(Nms, SuppressesOverlapsWithinAClassOnly) {
  std::vector<Candidate> c{
      {{0, 0, 10, 10}, 0.9F, 0}, {{1, 1, 11, 11}, 0.8F, 0}, {{1, 1, 11, 11}, 0.7F, 1}, {{50, 50, 60, 60}, 0.6F, 0}};
  const auto kept = non_max_suppression(c, 0.45F, 300);
  ASSERT_EQ(kept.size(), 3U);
  EXPECT_FLOAT_EQ(kept[0].score, 0.9F);
  EXPECT_EQ(kept[1].class_id, 1);
  EXPECT_EQ(non_max_suppression(c, 0.45F, 1).size(), 1U);
}

TEST(Decode, Yolov8RowsAreFeatures) {
  ModelInfo m;
  m.layout = OutputLayout::yolov8;
  m.num_classes = 2;
  // [1, 6, 3]: anchors 0..2; anchor 1 is class 1 at 0.9.
  std::vector<float> d{10, 20, 30, 10, 20, 30, 10, 20, 30, 4, 4, 4, 0.1F, 0.2F, 0.1F, 0.1F, 0.9F, 0.1F};
  OutputTensor t{d.data(), {1, 6, 3}};
  std::vector<Candidate> out;
  ASSERT_TRUE(decode(m, std::span(&t, 1), 0, {}, out));
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].class_id, 1);
  EXPECT_FLOAT_EQ(out[0].box.x1, 10);  // cx 20 - w 20 / 2
  EXPECT_FLOAT_EQ(out[0].box.y2, 22);
}

TEST(Decode, WrongShapeIsAnErrorNotARead) {
  ModelInfo m;
  m.layout = OutputLayout::yolov8;
  m.num_classes = 80;
  std::vector<float> d(10);
  OutputTensor t{d.data(), {1, 5, 2}};
  std::vector<Candidate> out;
  auto r = decode(m, std::span(&t, 1), 0, {}, out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, DetectErrc::layout_unknown);
  EXPECT_NE(r.error().message.find("--layout"), std::string::npos);
}

TEST(Metadata, UltralyticsNamesAndSizes) {
  const auto names = detail::parse_names_metadata("{0: 'person', 1: \"bicycle\", 3: 'motor cycle'}");
  ASSERT_EQ(names.size(), 4U);
  EXPECT_EQ(names[0], "person");
  EXPECT_EQ(names[1], "bicycle");
  EXPECT_EQ(names[3], "motor cycle");
  EXPECT_EQ(detail::parse_int_list("[640, 480]"), (std::vector<int>{640, 480}));
}

namespace {
std::vector<std::uint8_t> png_header(std::uint32_t w, std::uint32_t h) {
  std::vector<std::uint8_t> b{0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
  for (const std::uint32_t v : {w, h}) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(v >> s));
  }
  for (const char c : std::string("\x08\x02\0\0\0\0\0\0\0\0\0\0\0\0IEND\xAE\x42\x60\x82", 22))
    b.push_back(static_cast<std::uint8_t>(c));
  return b;
}
}  // namespace

TEST(ImageHeader, SizesAreCheckedBeforeDecoding) {
  using shmyolo::image::probe;
  EXPECT_TRUE(probe(png_header(640, 480), "ok.png"));
  const auto zero = probe(png_header(0, 0), "zero.png");
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().code, shmyolo::image::ImageErrc::bad_size);
  EXPECT_NE(zero.error().message.find("claims 0x0 pixels"), std::string::npos) << zero.error().message;
  const auto huge = probe(png_header(100000, 100000), "huge.png");
  ASSERT_FALSE(huge);
  EXPECT_EQ(huge.error().code, shmyolo::image::ImageErrc::bad_size);
  EXPECT_NE(huge.error().message.find("refused before decoding"), std::string::npos) << huge.error().message;
  const std::vector<std::uint8_t> text{'h', 'e', 'l', 'l', 'o'};
  const auto not_image = probe(text, "hello.jpg");
  ASSERT_FALSE(not_image);
  EXPECT_EQ(not_image.error().code, shmyolo::image::ImageErrc::not_an_image);
}
