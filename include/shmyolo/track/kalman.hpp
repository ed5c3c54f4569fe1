// A box's motion: a constant-velocity Kalman filter over its centre, width
// and height, in pixels and pixels per second.
//
// The four coordinates move independently (the transition, measurement and
// noise matrices are block-diagonal per coordinate, as in ByteTrack's and
// BoT-SORT's 8-state filter), so the 8x8 filter is exactly four 2x2 ones:
// the same estimates at a fraction of the arithmetic, and no matrix library.
// Noise follows BoT-SORT: standard deviations proportional to the box's size
// (1/20 of it for position, 1/160 per frame for velocity), per frame of a
// 30 fps camera and scaled by the time that really passed.
#pragma once

#include <array>
#include <cstdint>

#include <shmyolo/detect/types.hpp>

namespace shmyolo::track {

class BoxFilter {
 public:
  BoxFilter() = default;
  // Starts at a detected box, at rest, captured at `ns`.
  BoxFilter(const detect::Box& box, std::uint64_t ns);

  // Moves the estimate forward to `ns` (earlier times leave it as it is).
  void predict(std::uint64_t ns);
  // Corrects the estimate with a detected box.
  void correct(const detect::Box& box);

  [[nodiscard]] detect::Box box() const;
  [[nodiscard]] float velocity_x() const { return static_cast<float>(axes_[0].velocity); }
  [[nodiscard]] float velocity_y() const { return static_cast<float>(axes_[1].velocity); }
  [[nodiscard]] std::uint64_t time_ns() const { return time_ns_; }

 private:
  struct Axis {  // position and velocity of one coordinate, with their covariance
    double position = 0;
    double velocity = 0;
    double pp = 0;  // var(position)
    double pv = 0;  // cov(position, velocity)
    double vv = 0;  // var(velocity)
  };
  // The size each coordinate's noise scales with: width for x and w, height for y and h.
  [[nodiscard]] double scale(std::size_t axis) const;

  std::array<Axis, 4> axes_{};  // centre x, centre y, width, height
  std::uint64_t time_ns_ = 0;
};

}  // namespace shmyolo::track
