#include "latency_plot.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace shmyolo::bench {
namespace {

constexpr int kWidth = 960;
constexpr int kHeight = 540;
constexpr int kLeft = 80;  // margins leave room for the axis labels
constexpr int kRight = 30;
constexpr int kTop = 60;
constexpr int kBottom = 60;

// Okabe-Ito colours (BGR): told apart with any colour vision.
const std::vector<cv::Scalar> kColours{{178, 114, 0}, {0, 94, 213}, {115, 158, 0}, {167, 121, 204}, {0, 159, 230}};

// A round axis step giving about 8 ticks.
double tick_step(double range) {
  const double raw = range / 8;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (const double m : {1.0, 2.0, 5.0}) {
    if (m * power >= raw) return m * power;
  }
  return 10 * power;
}

void text(cv::Mat& img, const std::string& s, cv::Point at, double scale = 0.5) {
  cv::putText(img, s, at, cv::FONT_HERSHEY_SIMPLEX, scale, {40, 40, 40}, 1, cv::LINE_AA);
}

}  // namespace

bool write_latency_plot(const std::filesystem::path& png, const std::string& title,
                        const std::vector<LatencySeries>& series) {
  cv::Mat img(kHeight, kWidth, CV_8UC3, cv::Scalar(255, 255, 255));
  double top_ms = 1;
  for (const auto& s : series) {
    if (!s.ms.empty()) top_ms = std::max(top_ms, *std::ranges::max_element(s.ms));
  }
  const double step = tick_step(top_ms);
  const double x_max = std::ceil(top_ms / step) * step;
  const int plot_w = kWidth - kLeft - kRight;
  const int plot_h = kHeight - kTop - kBottom;
  const auto px = [&](double ms) { return kLeft + static_cast<int>(std::lround(ms / x_max * plot_w)); };
  const auto py = [&](double share) { return kTop + plot_h - static_cast<int>(std::lround(share * plot_h)); };
  const auto ticks = static_cast<int>(std::lround(x_max / step));
  for (int k = 0; k <= ticks; ++k) {
    const double ms = k * step;
    cv::line(img, {px(ms), py(0)}, {px(ms), py(1)}, {225, 225, 225});
    text(img, fmt::format("{:g}", ms), {px(ms) - 12, py(0) + 20}, 0.45);
  }
  for (int q = 0; q <= 4; ++q) {
    cv::line(img, {px(0), py(q / 4.0)}, {px(x_max), py(q / 4.0)}, {225, 225, 225});
    text(img, fmt::format("{:.2f}", q / 4.0), {kLeft - 45, py(q / 4.0) + 5}, 0.45);
  }
  cv::rectangle(img, {px(0), py(1)}, {px(x_max), py(0)}, {90, 90, 90});
  text(img, title, {kLeft, 24}, 0.6);
  text(img, "end-to-end latency, capture to detections (ms)", {kLeft + plot_w / 2 - 190, kHeight - 15});
  text(img, "share of frames", {8, kTop - 12}, 0.45);
  for (std::size_t i = 0; i < series.size(); ++i) {
    std::vector<double> ms = series[i].ms;
    std::ranges::sort(ms);
    std::vector<cv::Point> curve;
    curve.reserve(ms.size() + 1);
    curve.emplace_back(px(ms.empty() ? 0 : ms.front()), py(0));
    for (std::size_t k = 0; k < ms.size(); ++k) {
      curve.emplace_back(px(ms[k]), py(static_cast<double>(k + 1) / static_cast<double>(ms.size())));
    }
    const cv::Scalar& colour = kColours[i % kColours.size()];
    cv::polylines(img, curve, false, colour, 2, cv::LINE_AA);
    // The legend sits bottom right, where cumulative curves never are.
    const int y = kTop + plot_h - 15 - static_cast<int>(series.size() - 1 - i) * 22;
    cv::line(img, {kLeft + plot_w - 300, y - 5}, {kLeft + plot_w - 270, y - 5}, colour, 3);
    text(img, series[i].label, {kLeft + plot_w - 262, y});
  }
  return cv::imwrite(png.string(), img);
}

}  // namespace shmyolo::bench
