#include "frame_picture.hpp"

#include <algorithm>
#include <cmath>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace shmyolo::pipeline {
namespace {

constexpr int kJpegQuality = 85;  // OpenCV's default is 95; tiles refresh several times a second

// One colour per class, far apart in hue (the golden angle), bright on video.
cv::Scalar class_colour(int class_id) {
  const int hue = class_id * 137 % 360 / 2;  // OpenCV's 8-bit hue runs 0-179
  cv::Mat hsv(1, 1, CV_8UC3, cv::Scalar(hue, 220, 255));
  cv::Mat bgr;
  cv::cvtColor(hsv, bgr, cv::COLOR_HSV2BGR);
  const auto px = bgr.at<cv::Vec3b>(0, 0);
  return {static_cast<double>(px[0]), static_cast<double>(px[1]), static_cast<double>(px[2])};
}

// Draws source-pixel boxes on the slot's content: the frame's own placement
// maps them, so a region of interest or a stretch lands where the model saw it.
void draw_boxes(cv::Mat& image, std::span<const LabelledBox> boxes, const Placement& placement) {
  const detect::Box content = placement.content();
  for (const auto& d : boxes) {
    const cv::Scalar colour = class_colour(d.class_id);
    const detect::Box in_slot = placement.to_slot(d.box);
    const cv::Point a(static_cast<int>(in_slot.x1 - content.x1), static_cast<int>(in_slot.y1 - content.y1));
    const cv::Point b(static_cast<int>(in_slot.x2 - content.x1), static_cast<int>(in_slot.y2 - content.y1));
    cv::rectangle(image, a, b, colour, 2);
    const std::string& label = d.label;
    int baseline = 0;
    const cv::Size size = cv::getTextSize(label, cv::FONT_HERSHEY_SIMPLEX, 0.45, 1, &baseline);
    const cv::Point origin(a.x, std::max(a.y, size.height + 4));
    cv::rectangle(image, origin - cv::Point(0, size.height + 4), origin + cv::Point(size.width + 4, 0), colour,
                  cv::FILLED);
    cv::putText(image, label, origin + cv::Point(2, -3), cv::FONT_HERSHEY_SIMPLEX, 0.45, cv::Scalar(0, 0, 0), 1,
                cv::LINE_AA);
  }
}

// Zones in orange, lines in yellow (BGR), named at their first point.
const cv::Scalar kZoneColour(0, 160, 255);
const cv::Scalar kLineColour(0, 255, 255);

void draw_overlay(cv::Mat& image, const Overlay& o, const Placement& placement) {
  const detect::Box content = placement.content();
  const auto to_image = [&](track::Point p) {
    const detect::Box b = placement.to_slot(
        {static_cast<float>(p.x), static_cast<float>(p.y), static_cast<float>(p.x), static_cast<float>(p.y)});
    return cv::Point(static_cast<int>(std::lround(b.x1 - content.x1)),
                     static_cast<int>(std::lround(b.y1 - content.y1)));
  };
  const auto name = [&](const std::string& text, cv::Point at, const cv::Scalar& colour) {
    cv::putText(image, text, at + cv::Point(3, 12), cv::FONT_HERSHEY_SIMPLEX, 0.4, colour, 1, cv::LINE_AA);
  };
  for (std::size_t z = 0; z < o.zones.size(); ++z) {
    std::vector<cv::Point> corners;
    corners.reserve(o.zones[z].size());
    for (const auto& p : o.zones[z]) corners.push_back(to_image(p));
    cv::polylines(image, corners, true, kZoneColour, 1, cv::LINE_AA);
    if (!corners.empty() && z < o.zone_names.size()) name(o.zone_names[z], corners[0], kZoneColour);
  }
  for (std::size_t l = 0; l < o.lines.size(); ++l) {
    const cv::Point a = to_image(o.lines[l][0]);
    const cv::Point b = to_image(o.lines[l][1]);
    cv::line(image, a, b, kLineColour, 2, cv::LINE_AA);
    if (l < o.line_names.size()) name(o.line_names[l], a, kLineColour);
  }
}

}  // namespace

Overlay overlay_of(const config::CameraConfig& camera, std::uint32_t width, std::uint32_t height) {
  const double sx = camera.normalized ? width : 1.0;
  const double sy = camera.normalized ? height : 1.0;
  Overlay o;
  for (const auto& z : camera.zones) {
    std::vector<track::Point> points;
    points.reserve(z.points.size());
    for (const auto& p : z.points) points.push_back({p.x * sx, p.y * sy});
    o.zones.push_back(std::move(points));
    o.zone_names.push_back(z.name);
  }
  for (const auto& l : camera.lines) {
    o.lines.push_back({track::Point{l.from.x * sx, l.from.y * sy}, track::Point{l.to.x * sx, l.to.y * sy}});
    o.line_names.push_back(l.name);
  }
  return o;
}

std::vector<std::uint8_t> picture_jpeg(const bus::RingGeometry& g, std::span<const std::byte> pixels,
                                       const Placement& placement, std::span<const LabelledBox> boxes,
                                       const Overlay* overlay) {
  // The picture without its letterbox padding, at the slot's scale.
  const cv::Mat slot(static_cast<int>(g.height), static_cast<int>(g.width), CV_8UC3,
                     const_cast<std::byte*>(pixels.data()),
                     g.row_stride);  // NOLINT(cppcoreguidelines-pro-type-const-cast): read only
  const detect::Box area = placement.content();
  const cv::Rect content =
      cv::Rect(cv::Point(static_cast<int>(std::lround(area.x1)), static_cast<int>(std::lround(area.y1))),
               cv::Point(static_cast<int>(std::lround(area.x2)), static_cast<int>(std::lround(area.y2)))) &
      cv::Rect(0, 0, slot.cols, slot.rows);
  if (content.empty()) return {};
  cv::Mat picture = slot(content).clone();
  if (overlay != nullptr) draw_overlay(picture, *overlay, placement);
  draw_boxes(picture, boxes, placement);
  std::vector<std::uint8_t> jpeg;
  cv::imencode(".jpg", picture, jpeg, {cv::IMWRITE_JPEG_QUALITY, kJpegQuality});
  return jpeg;
}

}  // namespace shmyolo::pipeline
