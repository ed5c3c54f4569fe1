// The ring's layout without an operating system: the same source runs in the
// Linux build and, cross-built with mingw-w64, under Wine (tests/windows), so
// a ring's bytes and the rules that check them are the same on both.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <memory>

#include <shmyolo/bus/ring.hpp>

namespace shmyolo::bus {
namespace {

TEST(Layout, OffsetsAreTheDocumentedOnes) {  // docs/shm-layout.md
  EXPECT_EQ(sizeof(RingHeader), 4096U);
  EXPECT_EQ(sizeof(SlotDescriptor), 256U);
  EXPECT_EQ(offsetof(RingHeader, name), 16U);
  EXPECT_EQ(offsetof(RingHeader, geometry), 112U);
  EXPECT_EQ(offsetof(RingHeader, policy), 168U);
  EXPECT_EQ(offsetof(RingHeader, creator), 192U);
  EXPECT_EQ(offsetof(RingHeader, state), 256U);
  EXPECT_EQ(offsetof(RingHeader, producer_pid), 264U);
  EXPECT_EQ(offsetof(RingHeader, next_frame_seq), 288U);
  EXPECT_EQ(offsetof(RingHeader, frame_bell), 320U);
  EXPECT_EQ(offsetof(RingHeader, space_bell), 328U);
  EXPECT_EQ(offsetof(RingHeader, counters), 384U);
}

TEST(Layout, GeometryOfA1080pRing) {
  const auto g = plan_geometry({.name = "shmyolo.layout.cam", .width = 1920, .height = 1080, .slot_count = 4});
  ASSERT_TRUE(g) << g.error().message;
  EXPECT_EQ(g->row_stride, 5760U);
  EXPECT_EQ(g->frame_bytes, 6220800U);
  EXPECT_EQ(g->slot_stride, 6221824U);  // whole 4096-byte pages
  EXPECT_EQ(g->descriptors_offset, 4096U);
  EXPECT_EQ(g->slots_offset, 8192U);
  EXPECT_EQ(g->total_bytes, 8192U + 4U * 6221824U);
  const auto tensor =
      plan_geometry({.name = "t", .width = 640, .height = 640, .format = PixelFormat::rgb_f32_planar, .slot_count = 3});
  ASSERT_TRUE(tensor);
  EXPECT_EQ(tensor->frame_bytes, 640U * 4U * 640U * 3U);
}

TEST(Layout, WrongOptionsAreSaidInOneLine) {
  EXPECT_EQ(plan_geometry({.name = "r", .width = 0, .height = 10}).error().message,
            "ring r: frame size 0x10 is outside 1..16384");
  EXPECT_EQ(plan_geometry({.name = "r", .width = 8, .height = 8, .slot_count = 2000}).error().message,
            "ring r: 2000 slots is outside 1..1024");
  EXPECT_EQ(check_ring_name("a b").error().message, "ring name 'a b' may hold only letters, digits, '.', '_' and '-'");
  EXPECT_EQ(to_string(PixelFormat::bgr8), "bgr8");
  EXPECT_EQ(to_string(Delivery::queue), "queue");
}

// A header as a creator writes it, in page-aligned memory.
std::unique_ptr<RingHeader> valid_header(const RingGeometry& g) {
  auto h = std::make_unique<RingHeader>();
  h->layout_version = kLayoutVersion;
  h->header_bytes = sizeof(RingHeader);
  std::strcpy(h->name, "shmyolo.layout.cam");
  h->geometry = g;
  h->policy = RingPolicy{Delivery::latest, FullPolicy::drop_oldest, 1000, 5000, 3000, 0};
  h->magic.store(kRingMagic);
  return h;
}

TEST(Layout, AHeaderIsCheckedFieldByField) {
  const auto g = plan_geometry({.name = "shmyolo.layout.cam", .width = 64, .height = 48, .slot_count = 2}).value();
  const auto h = valid_header(g);
  EXPECT_TRUE(validate_header(*h, g.total_bytes, "seg"));
  const std::string prefix = "segment seg is not a valid shmyolo ring: ";
  const std::string advice = "; remove it with 'shmyolo gc --invalid' if nothing else owns it";
  EXPECT_EQ(validate_header(*h, g.total_bytes - 1, "seg").error().message,
            prefix + "2 slots of 12288 bytes end at byte 32768, beyond the 32767-byte file" + advice);
  h->geometry.slot_count = 0;
  EXPECT_EQ(validate_header(*h, g.total_bytes, "seg").error().message, prefix + "slot count 0 is impossible" + advice);
  h->geometry = g;
  h->layout_version = 1;
  EXPECT_EQ(validate_header(*h, g.total_bytes, "seg").error().code, BusErrc::version_mismatch);
  h->layout_version = kLayoutVersion;
  h->magic.store(0x1234);
  EXPECT_EQ(validate_header(*h, g.total_bytes, "seg").error().message, prefix + "magic is 0x0000000000001234" + advice);
  h->magic.store(0);
  EXPECT_EQ(validate_header(*h, g.total_bytes, "seg").error().code, BusErrc::not_ready);
}

}  // namespace
}  // namespace shmyolo::bus
