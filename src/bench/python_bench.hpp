// shmyolo bench python: the Python package's costs against C++ in one run.
// The C++ figures (one memcpy of a frame, a C++ consumer's claim to view) are
// measured here; src/bench/python_bench.py measures Python's side by side and
// the design most Python systems use, and prints the table.
#pragma once

#include <string>

namespace shmyolo::bench {

struct PythonBenchOptions {
  int width = 1920;
  int height = 1080;
  int frames = 300;
  std::string json;
  std::string script;      // python_bench.py
  std::string module_dir;  // where the built package is (the build tree's python/)
};

// Runs both sides; returns the exit status (the reason said in one line when
// the package is missing or the script fails).
[[nodiscard]] int run_python_bench(const PythonBenchOptions& o);

}  // namespace shmyolo::bench
