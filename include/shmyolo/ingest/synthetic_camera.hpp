// A camera that needs no hardware: moving shapes of a few classes over
// varied, noisy backgrounds, deterministic from a seed, with the true box of
// every object in every frame. Training data and live demo frames come from
// the same renderer.
//
//   SyntheticCamera camera({.width = 640, .height = 480, .seed = 7});
//   std::vector<GroundTruth> truth;
//   camera.render(frame_index, pixels, stride, truth);
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace shmyolo::ingest {

struct GroundTruth {
  int class_id = 0;
  float x1 = 0;  // pixels, clipped to the frame
  float y1 = 0;
  float x2 = 0;
  float y2 = 0;
  float visible = 1;  // share of the object's own pixels not hidden by objects drawn over it
  int id = 0;         // the object's identity, the same in every frame (scores tracking)
};

// Objects less visible than this are left out of labels, and evaluation
// neither rewards nor penalises detections of them (an "ignore" region, as
// KITTI's DontCare): half an object is still fair game for a detector.
inline constexpr float kMinLabelledVisibility = 0.5F;

struct SyntheticCameraOptions {
  int width = 640;
  int height = 480;
  double fps = 30;
  std::uint64_t seed = 1;
  int min_objects = 1;
  int max_objects = 4;
};

class SyntheticCamera {
 public:
  explicit SyntheticCamera(const SyntheticCameraOptions& options);

  // Renders frame `index` into 8-bit BGR pixels (`stride` bytes per row) and
  // replaces `truth` with its objects' boxes. The same seed and index always
  // give the same bytes.
  void render(std::uint64_t index, std::uint8_t* bgr, std::size_t stride, std::vector<GroundTruth>& truth) const;

  // The same boxes render() reports for frame `index`, without drawing a
  // pixel: a consumer that knows the seed recomputes the truth of a frame.
  void truth(std::uint64_t index, std::vector<GroundTruth>& truth) const;

  [[nodiscard]] const SyntheticCameraOptions& options() const { return options_; }
  // circle, square, triangle, person
  [[nodiscard]] static const std::vector<std::string>& class_names();

 private:
  struct Mover {
    int class_id;
    float size;    // bounding-box height in pixels
    float aspect;  // width / height
    float x0, y0;  // start of the box's top-left corner
    float vx, vy;  // pixels per frame
    std::uint8_t color[3];
  };
  struct Background {
    std::uint8_t base[3];
    std::uint8_t tint[3];
    int pattern;  // 0 vertical gradient, 1 horizontal, 2 diagonal stripes, 3 checker
    int noise;    // amplitude of the per-frame noise
  };

  struct Placed {
    const Mover* mover;
    float x, y;  // top-left corner of the box in this frame
  };

  [[nodiscard]] std::vector<Placed> place(std::uint64_t index) const;
  // Share of object i's shape not covered by the objects drawn after it.
  [[nodiscard]] static float visibility(const std::vector<Placed>& placed, std::size_t i);
  void draw_background(std::uint64_t index, std::uint8_t* bgr, std::size_t stride) const;
  void draw_object(const Placed& p, std::uint8_t* bgr, std::size_t stride) const;

  SyntheticCameraOptions options_;
  Background background_{};
  std::vector<Mover> movers_;
};

}  // namespace shmyolo::ingest
