// Plane geometry for zones and lines, in picture coordinates (y down).
#pragma once

#include <span>

namespace shmyolo::track {

struct Point {
  double x = 0;
  double y = 0;
};

// > 0 when p is right of the line a->b as seen in the picture (clockwise
// around a, with y down), < 0 when left, 0 on it: twice the signed area of
// the triangle a, b, p.
[[nodiscard]] double side(Point a, Point b, Point p);

// Whether segments a-b and c-d share a point (touching counts).
[[nodiscard]] bool segments_meet(Point a, Point b, Point c, Point d);

// Whether p lies inside the polygon (even-odd rule; a point on an edge may
// fall either way).
[[nodiscard]] bool inside(std::span<const Point> polygon, Point p);

// Whether two edges of a closed polygon that are not neighbours meet, or two
// neighbours overlap: such a polygon has no clear inside.
[[nodiscard]] bool self_intersecting(std::span<const Point> polygon);

// The polygon's area (shoelace formula), whichever way it winds.
[[nodiscard]] double area(std::span<const Point> polygon);

}  // namespace shmyolo::track
