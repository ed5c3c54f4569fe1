// Where the detector that ships with shmyolo lives (models/shapes-320.onnx,
// trained by tools/train_demo_model.py on synthetic-camera scenes).
#pragma once

#include <filesystem>

namespace shmyolo::cli {

// The first that exists of: <program dir>/../models, <program dir>/../share/
// shmyolo/models (installed), the source tree's models/. When none exists,
// the source-tree path, so the error names where it was expected.
[[nodiscard]] std::filesystem::path bundled_model_path();

// The source tree this program was built from (only bundled_model.cpp is
// compiled with its path, so a moved checkout recompiles one file).
[[nodiscard]] std::filesystem::path source_tree();

}  // namespace shmyolo::cli
