#include <shmyolo/track/kalman.hpp>

#include <algorithm>

namespace shmyolo::track {
namespace {

// BoT-SORT's weights (ByteTrack's too): position noise 1/20 of the box's
// size, velocity noise 1/160 of it per frame, per frame of a 30 fps camera.
constexpr double kPositionWeight = 1.0 / 20;
constexpr double kVelocityWeight = 1.0 / 160;
constexpr double kFramePeriodS = 1.0 / 30;

double squared(double v) {
  return v * v;
}

}  // namespace

BoxFilter::BoxFilter(const detect::Box& box, std::uint64_t ns) : time_ns_(ns) {
  const std::array<double, 4> z{(box.x1 + box.x2) / 2.0, (box.y1 + box.y2) / 2.0, box.width(), box.height()};
  for (std::size_t i = 0; i < 4; ++i) axes_[i].position = z[i];
  for (std::size_t i = 0; i < 4; ++i) {
    // BoT-SORT's initial uncertainty: twice the position noise, ten times the velocity noise.
    axes_[i].pp = squared(2 * kPositionWeight * scale(i));
    axes_[i].vv = squared(10 * kVelocityWeight * scale(i) / kFramePeriodS);
  }
}

double BoxFilter::scale(std::size_t axis) const {
  const double size = axis % 2 == 0 ? axes_[2].position : axes_[3].position;
  return std::max(size, 1.0);
}

void BoxFilter::predict(std::uint64_t ns) {
  if (ns <= time_ns_) return;
  const double dt = static_cast<double>(ns - time_ns_) / 1e9;
  const double frames = dt / kFramePeriodS;  // noise grows with the time that passed
  time_ns_ = ns;
  for (std::size_t i = 0; i < 4; ++i) {
    Axis& a = axes_[i];
    const double q_position = squared(kPositionWeight * scale(i)) * frames;
    const double q_velocity = squared(kVelocityWeight * scale(i) / kFramePeriodS) * frames;
    a.position += a.velocity * dt;
    a.pp += 2 * dt * a.pv + dt * dt * a.vv + q_position;
    a.pv += dt * a.vv;
    a.vv += q_velocity;
  }
  axes_[2].position = std::max(axes_[2].position, 1.0);
  axes_[3].position = std::max(axes_[3].position, 1.0);
}

void BoxFilter::correct(const detect::Box& box) {
  const std::array<double, 4> z{(box.x1 + box.x2) / 2.0, (box.y1 + box.y2) / 2.0, box.width(), box.height()};
  std::array<double, 4> r{};
  for (std::size_t i = 0; i < 4; ++i) r[i] = squared(kPositionWeight * scale(i));
  for (std::size_t i = 0; i < 4; ++i) {
    Axis& a = axes_[i];
    const double s = a.pp + r[i];
    const double k_position = a.pp / s;
    const double k_velocity = a.pv / s;
    const double innovation = z[i] - a.position;
    a.position += k_position * innovation;
    a.velocity += k_velocity * innovation;
    a.vv -= k_velocity * a.pv;
    a.pp *= 1 - k_position;
    a.pv *= 1 - k_position;
  }
  axes_[2].position = std::max(axes_[2].position, 1.0);
  axes_[3].position = std::max(axes_[3].position, 1.0);
}

detect::Box BoxFilter::box() const {
  const auto cx = static_cast<float>(axes_[0].position);
  const auto cy = static_cast<float>(axes_[1].position);
  const auto half_w = static_cast<float>(axes_[2].position / 2);
  const auto half_h = static_cast<float>(axes_[3].position / 2);
  return {cx - half_w, cy - half_h, cx + half_w, cy + half_h};
}

}  // namespace shmyolo::track
