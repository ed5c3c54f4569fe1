// The frame record a slot carries: written and read back whole, boxes mapped
// through a letterbox, a stretch and a region of interest, and every kind of
// scribbled record refused in one line.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "../../src/pipeline/frame_record.hpp"

namespace {

using shmyolo::detect::Box;
using shmyolo::pipeline::CameraFrame;
using shmyolo::pipeline::Placement;
using shmyolo::pipeline::read_record;
using shmyolo::pipeline::UploadRequest;
using shmyolo::pipeline::write_record;

// 1280x720 camera, a 640x480 region of interest at (100, 50), stretched into
// a 352x352 slot: scale 0.55 across, 0.7333 down, no padding.
Placement stretched_roi() {
  shmyolo::detect::LetterboxTransform t;
  t.scale_x = 352.0F / 640.0F;
  t.scale_y = 352.0F / 480.0F;
  return Placement::of(t, 1280, 720, 100, 50, 640, 480);
}

void expect_box(const Box& got, const Box& want) {
  EXPECT_NEAR(got.x1, want.x1, 1e-3);
  EXPECT_NEAR(got.y1, want.y1, 1e-3);
  EXPECT_NEAR(got.x2, want.x2, 1e-3);
  EXPECT_NEAR(got.y2, want.y2, 1e-3);
}

TEST(FrameRecord, CameraFrameRoundTrips) {
  shmyolo::bus::FrameMeta meta;
  write_record(meta, {.placement = stretched_roi(), .origin = CameraFrame{.camera = 3, .index = 1234567890123ULL}});
  const auto back = read_record(meta);
  ASSERT_TRUE(back) << back.error();
  const auto& frame = std::get<CameraFrame>(back->origin);
  EXPECT_EQ(frame.camera, 3U);
  EXPECT_EQ(frame.index, 1234567890123ULL);
  EXPECT_EQ(back->placement.crop_x, 100U);
  EXPECT_EQ(back->placement.crop_y, 50U);
  EXPECT_EQ(back->placement.picture_width, 640U);
  EXPECT_EQ(back->placement.picture_height, 480U);
  EXPECT_EQ(back->placement.source_width, 1280U);
  EXPECT_FLOAT_EQ(back->placement.scale_y, 352.0F / 480.0F);
}

TEST(FrameRecord, UploadRoundTripsWithItsOptions) {
  shmyolo::detect::LetterboxTransform t;
  t.scale_x = t.scale_y = 0.5F;
  t.pad_y = 80;
  shmyolo::bus::FrameMeta meta;
  UploadRequest upload{.id = 77, .options = {.confidence = 0.6F, .iou = 0.3F, .classes = {1U << 16, 1}}};
  write_record(meta, {.placement = Placement::of(t, 1280, 960, 0, 0, 1280, 960), .origin = upload});
  const auto back = read_record(meta);
  ASSERT_TRUE(back) << back.error();
  const auto& got = std::get<UploadRequest>(back->origin);
  EXPECT_EQ(got.id, 77U);
  EXPECT_FLOAT_EQ(got.options.confidence, 0.6F);
  EXPECT_FLOAT_EQ(got.options.iou, 0.3F);
  EXPECT_EQ(shmyolo::pipeline::class_list(got.options.classes), (std::vector<int>{16, 64}));
}

// Each axis has its own scale: the defect was y mapped with x's scale.
TEST(FrameRecord, StretchedRegionMapsEachAxisByItsOwnScale) {
  const Placement p = stretched_roi();
  // The slot's whole content is the whole region of interest.
  expect_box(p.to_source({0, 0, 352, 352}), {100, 50, 740, 530});
  expect_box(p.to_source({176, 88, 352, 264}), {420, 170, 740, 410});
  // Boxes past the picture are clipped to it, not to the camera frame.
  expect_box(p.to_source({-20, -20, 400, 400}), {100, 50, 740, 530});
  // to_slot undoes to_source.
  expect_box(p.to_slot(p.to_source({10, 20, 30, 40})), {10, 20, 30, 40});
  expect_box(p.content(), {0, 0, 352, 352});
}

TEST(FrameRecord, LetterboxMapsThroughItsPadding) {
  // 768x576 into 640x640: scale 5/6, 80 rows of padding above and below.
  shmyolo::detect::LetterboxTransform t;
  t.scale_x = t.scale_y = 640.0F / 768.0F;
  t.pad_y = 80;
  const Placement p = Placement::of(t, 768, 576, 0, 0, 768, 576);
  expect_box(p.to_source({0, 80, 640, 560}), {0, 0, 768, 576});
  expect_box(p.content(), {0, 80, 640, 560});
}

TEST(FrameRecord, ScribbledRecordsAreRefusedInOneLine) {
  shmyolo::bus::FrameMeta good;
  write_record(good, {.placement = stretched_roi(), .origin = CameraFrame{.camera = 0, .index = 1}});
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<std::pair<const char*, void (*)(shmyolo::bus::FrameMeta&)>> scribbles{
      {"unknown kind", [](shmyolo::bus::FrameMeta& m) { m.user[0] = 0; }},
      {"not a placement scale", [](shmyolo::bus::FrameMeta& m) { m.scale_x = 0; }},
      {"not a placement scale", [](shmyolo::bus::FrameMeta& m) { m.scale_y = -1; }},
      {"not a placement scale", [](shmyolo::bus::FrameMeta& m) { m.scale_y = std::numeric_limits<float>::infinity(); }},
      {"outside any slot", [](shmyolo::bus::FrameMeta& m) { m.pad_x = std::numeric_limits<float>::quiet_NaN(); }},
      {"does not fit", [](shmyolo::bus::FrameMeta& m) { m.user[4] = 0; }},
      {"does not fit", [](shmyolo::bus::FrameMeta& m) { m.user[3] = ~0ULL; }},
      {"does not fit", [](shmyolo::bus::FrameMeta& m) { m.source_width = 10; }},
      {"no camera index", [](shmyolo::bus::FrameMeta& m) { m.user[1] = 1ULL << 40; }},
  };
  for (const auto& [want, scribble] : scribbles) {
    shmyolo::bus::FrameMeta m = good;
    scribble(m);
    const auto r = read_record(m);
    ASSERT_FALSE(r) << want;
    EXPECT_NE(r.error().message.find(want), std::string::npos) << r.error();
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << r.error();
    EXPECT_EQ(r.error().code, want == std::string("unknown kind") || want == std::string("no camera index")
                                  ? shmyolo::pipeline::RecordErrc::bad_origin
                                  : shmyolo::pipeline::RecordErrc::bad_placement)
        << want;
  }
  // An upload whose confidence is no probability.
  shmyolo::bus::FrameMeta upload;
  write_record(upload,
               {.placement = stretched_roi(), .origin = UploadRequest{.id = 1, .options = {.confidence = nan}}});
  const auto r = read_record(upload);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("must lie in 0..1"), std::string::npos) << r.error();
  EXPECT_EQ(r.error().code, shmyolo::pipeline::RecordErrc::bad_origin);
}

}  // namespace
