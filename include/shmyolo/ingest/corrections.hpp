// A camera's basic corrections, done once in its ingest process so workers
// never repeat them: colour conversion to BGR, lens undistortion (remap
// tables computed once per frame size), a crop to the region of interest,
// then the letterbox straight into the slot. Each step runs only when
// configured; the crop is a view, so a frame costs at most three passes
// (convert, remap, resize-into-slot) and usually one.
#pragma once

#include <expected>
#include <string>

#include <opencv2/core.hpp>
#include <shmyolo/config/pipeline_config.hpp>
#include <shmyolo/ingest/slot_letterbox.hpp>

namespace shmyolo::ingest {

class Corrections {
 public:
  explicit Corrections(const config::CameraConfig& camera) : camera_(camera) {}

  // The corrected picture (before the letterbox), or a message when the
  // frame cannot be used (an ROI outside it). The view may point into
  // `frame` or into this object's buffers until the next call.
  [[nodiscard]] std::expected<cv::Mat, std::string> apply(const cv::Mat& frame);
  [[nodiscard]] const std::optional<config::Roi>& roi() const { return camera_.roi; }

 private:
  void prepare_remap(const config::Undistort& u, cv::Size size);

  config::CameraConfig camera_;
  cv::Mat converted_;
  cv::Mat grey_;
  cv::Mat undistorted_;
  cv::Mat map1_;
  cv::Mat map2_;
  cv::Size mapped_size_;
};

}  // namespace shmyolo::ingest
