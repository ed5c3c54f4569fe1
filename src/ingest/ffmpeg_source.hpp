// Video files and network streams (rtsp, rtsps, http, https) read with
// FFmpeg's own libraries: demux, decode (key frames only when asked), then
// the decoder's YUV planes resized straight to the letterbox size and
// converted into the slot, the region of interest cut before: no full-size
// BGR picture. Other pixel formats, undistortion and colour options take
// the slower path through a full-size BGR picture and the corrections.
#pragma once

#include <expected>
#include <memory>
#include <string>

#include <shmyolo/config/pipeline_config.hpp>
#include <shmyolo/ingest/frame_source.hpp>

namespace shmyolo::ingest {

[[nodiscard]] std::expected<std::unique_ptr<FrameSource>, std::string> open_ffmpeg(const config::CameraConfig& camera,
                                                                                   bool (*interrupted)());

}  // namespace shmyolo::ingest
