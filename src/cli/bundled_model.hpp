// Where the detector that ships with shmyolo lives (models/shapes-320.onnx,
// trained by tools/train_demo_model.py on synthetic-camera scenes).
#pragma once

#include <filesystem>

namespace shmyolo::cli {

// The first that exists of: <program dir>/../models, <program dir>/../share/
// shmyolo/models (installed), the source tree's models/. When none exists,
// the source-tree path, so the error names where it was expected.
[[nodiscard]] std::filesystem::path bundled_model_path();

}  // namespace shmyolo::cli
