#include <shmyolo/ingest/corrections.hpp>

#include <fmt/format.h>
#include <opencv2/calib3d.hpp>
#include <opencv2/imgproc.hpp>

namespace shmyolo::ingest {

void Corrections::prepare_remap(const config::Undistort& u, cv::Size size) {
  const cv::Mat k(3, 3, CV_64F, const_cast<double*>(u.camera_matrix.data()));  // read only
  const cv::Mat d(1, static_cast<int>(u.distortion.size()), CV_64F, const_cast<double*>(u.distortion.data()));
  // CV_16SC2 maps: the fixed-point form cv::remap reads fastest.
  cv::initUndistortRectifyMap(k, d, cv::Mat(), k, size, CV_16SC2, map1_, map2_);
  mapped_size_ = size;
}

std::expected<cv::Mat, std::string> Corrections::apply(const cv::Mat& frame) {
  cv::Mat image = frame;
  // Remap before the colour conversion: on a grey source it moves a third of the bytes.
  if (const auto& u = camera_.undistort; u.has_value()) {
    if (image.size() != mapped_size_) prepare_remap(*u, image.size());
    cv::remap(image, undistorted_, map1_, map2_, cv::INTER_LINEAR, cv::BORDER_CONSTANT);
    image = undistorted_;
  }
  if (image.channels() == 1) {
    cv::cvtColor(image, converted_, cv::COLOR_GRAY2BGR);
    image = converted_;
  } else if (image.channels() == 4) {
    cv::cvtColor(image, converted_, cv::COLOR_BGRA2BGR);
    image = converted_;
  } else if (camera_.color == config::SourceColor::rgb) {
    cv::cvtColor(image, converted_, cv::COLOR_RGB2BGR);
    image = converted_;
  } else if (camera_.color == config::SourceColor::gray) {
    // A monochrome camera (infrared, say) that still sends three channels:
    // workers get pure luminance, whatever tint the encoder added.
    cv::cvtColor(image, grey_, cv::COLOR_BGR2GRAY);
    cv::cvtColor(grey_, converted_, cv::COLOR_GRAY2BGR);
    image = converted_;
  }
  if (camera_.roi) {
    const auto& r = *camera_.roi;
    if (r.x + r.width > image.cols || r.y + r.height > image.rows) {
      return std::unexpected(fmt::format("roi {}x{} at ({}, {}) does not fit in the {}x{} frame: fix cameras.roi",
                                         r.width, r.height, r.x, r.y, image.cols, image.rows));
    }
    image = image(cv::Rect(r.x, r.y, r.width, r.height));  // a view: no copy
  }
  return image;
}

}  // namespace shmyolo::ingest
