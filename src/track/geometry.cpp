#include <shmyolo/track/geometry.hpp>

#include <algorithm>
#include <cmath>

namespace shmyolo::track {
namespace {

bool within(double v, double a, double b) {
  return std::min(a, b) <= v && v <= std::max(a, b);
}

// p on segment a-b, given that the three are collinear.
bool on_segment(Point a, Point b, Point p) {
  return within(p.x, a.x, b.x) && within(p.y, a.y, b.y);
}

int sign(double v) {
  return (v > 0) - (v < 0);
}

}  // namespace

double side(Point a, Point b, Point p) {
  return (b.x - a.x) * (p.y - a.y) - (b.y - a.y) * (p.x - a.x);
}

bool segments_meet(Point a, Point b, Point c, Point d) {
  const int d1 = sign(side(c, d, a));
  const int d2 = sign(side(c, d, b));
  const int d3 = sign(side(a, b, c));
  const int d4 = sign(side(a, b, d));
  if (d1 * d2 < 0 && d3 * d4 < 0) return true;
  return (d1 == 0 && on_segment(c, d, a)) || (d2 == 0 && on_segment(c, d, b)) || (d3 == 0 && on_segment(a, b, c)) ||
         (d4 == 0 && on_segment(a, b, d));
}

bool inside(std::span<const Point> polygon, Point p) {
  bool in = false;
  const std::size_t n = polygon.size();
  for (std::size_t i = 0, j = n - 1; i < n; j = i++) {
    const Point a = polygon[i];
    const Point b = polygon[j];
    if ((a.y > p.y) != (b.y > p.y) && p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x) in = !in;
  }
  return in;
}

bool self_intersecting(std::span<const Point> polygon) {
  const std::size_t n = polygon.size();
  if (n < 3) return false;
  for (std::size_t i = 0; i < n; ++i) {
    const Point a = polygon[i];
    const Point b = polygon[(i + 1) % n];
    for (std::size_t j = i + 1; j < n; ++j) {
      const Point c = polygon[j];
      const Point d = polygon[(j + 1) % n];
      const bool neighbours = j == i + 1 || (i == 0 && j == n - 1);
      if (!neighbours) {
        if (segments_meet(a, b, c, d)) return true;
        continue;
      }
      // Neighbours share a corner; they cross only by folding back on each other.
      const Point shared = j == i + 1 ? b : a;
      const Point other_first = j == i + 1 ? a : b;
      const Point other_second = j == i + 1 ? d : c;
      if (side(other_first, shared, other_second) == 0 &&
          ((other_second.x - shared.x) * (other_first.x - shared.x) +
               (other_second.y - shared.y) * (other_first.y - shared.y) >
           0))
        return true;
    }
  }
  return false;
}

double area(std::span<const Point> polygon) {
  double twice = 0;
  const std::size_t n = polygon.size();
  for (std::size_t i = 0, j = n - 1; i < n; j = i++)
    twice += (polygon[j].x * polygon[i].y) - (polygon[i].x * polygon[j].y);
  return std::abs(twice) / 2;
}

}  // namespace shmyolo::track
