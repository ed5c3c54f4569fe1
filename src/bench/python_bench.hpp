// shmyolo bench python: the Python package's costs against C++ in one run.
// The C++ publishing figures (one memcpy of a frame, a C++ producer) are
// measured here; src/bench/python_bench.py measures Python's, the C++ and the
// Python consumer side by side (it starts this program as the C++ one), and
// the design most Python systems use, and prints the table.
#pragma once

#include <string>

namespace shmyolo::bench {

struct PythonBenchOptions {
  int width = 1920;
  int height = 1080;
  int frames = 300;
  std::string json;
  std::string script;        // python_bench.py
  std::string module_dir;    // where the built package is (the build tree's python/)
  std::string consume_ring;  // not empty: be the script's C++ consumer of this ring
};

// Runs both sides; returns the exit status (the reason said in one line when
// the package is missing or the script fails).
[[nodiscard]] int run_python_bench(const PythonBenchOptions& o);

// The C++ consumer of the script's side-by-side run: claims `frames` frames
// (after a warm-up) from `ring_name` and writes, for each, how long after its
// publish it held the pixels (ns, int64) to standard output.
[[nodiscard]] int run_cpp_consumer(const std::string& ring_name, int frames);

}  // namespace shmyolo::bench
