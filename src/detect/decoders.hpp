// One decoder per output layout, all with the same signature so the layout
// registry (layouts.cpp) can name them. Each checks the shapes it reads first.
#pragma once

#include <span>
#include <vector>

#include <shmyolo/detect/decode.hpp>

namespace shmyolo::detect {

DetectResult<void> decode_yolov5(const ModelInfo& m, std::span<const OutputTensor> outputs, int b,
                                 const DecodeParams& p, std::vector<Candidate>& out);
DetectResult<void> decode_yolov8(const ModelInfo& m, std::span<const OutputTensor> outputs, int b,
                                 const DecodeParams& p, std::vector<Candidate>& out);
DetectResult<void> decode_end_to_end(const ModelInfo& m, std::span<const OutputTensor> outputs, int b,
                                     const DecodeParams& p, std::vector<Candidate>& out);
DetectResult<void> decode_yolox(const ModelInfo& m, std::span<const OutputTensor> outputs, int b, const DecodeParams& p,
                                std::vector<Candidate>& out);
DetectResult<void> decode_darknet(const ModelInfo& m, std::span<const OutputTensor> outputs, int b,
                                  const DecodeParams& p, std::vector<Candidate>& out);
DetectResult<void> decode_fastestv2(const ModelInfo& m, std::span<const OutputTensor> outputs, int b,
                                    const DecodeParams& p, std::vector<Candidate>& out);

}  // namespace shmyolo::detect
