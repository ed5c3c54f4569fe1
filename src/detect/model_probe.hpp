// Filling in ModelInfo from what an engine reports: the output layout from
// the output shapes, class names from metadata or a names file.
#pragma once

#include <string>
#include <vector>

#include <shmyolo/detect/model.hpp>
#include <shmyolo/detect/types.hpp>

namespace shmyolo::detect::detail {

// Ultralytics' "names" metadata: "{0: 'person', 1: 'bicycle', ...}".
std::vector<std::string> parse_names_metadata(const std::string& text);
// Ultralytics' "imgsz" metadata: "[640, 640]" -> {640, 640}.
std::vector<int> parse_int_list(const std::string& text);

// Sets layout, num_classes, strides and preprocessing from output_shapes
// (concrete, batch first) and the options.
DetectResult<void> infer_layout(ModelInfo& m, const ModelOptions& options);
// Sets names: names file, else metadata (already in info.names), else COCO
// for 80 classes, else "class<i>".
DetectResult<void> resolve_names(ModelInfo& m, const ModelOptions& options);

}  // namespace shmyolo::detect::detail
