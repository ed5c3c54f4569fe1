// The pieces every part of the Python package shares: a ring held by Python
// objects, numpy views of its slots, errors as Python exceptions, and the
// facts of the pipeline a ring belongs to (its status segment).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <shmyolo/bus/ring.hpp>
#include <shmyolo/pipeline/status.hpp>

namespace shmyolo::python {

namespace py = pybind11;

// One mapping of a ring, shared by every Python object that uses it (the
// Ring, its producer, consumers, frames, numpy views): it is unmapped when
// the last of them goes.
struct RingHandle {
  bus::FrameRing ring;
};
using RingPtr = std::shared_ptr<RingHandle>;

// The folder a Python caller named, or the bus's default.
[[nodiscard]] std::filesystem::path shm_dir_or_default(const std::optional<std::string>& dir);

// Raises the Python exception for a bus error: FileNotFoundError,
// PermissionError, TimeoutError, ValueError, or shmyolo.BusError, with the
// bus's one-line message.
[[noreturn]] void raise(const bus::BusError& error);
// Raises ValueError with `message`.
[[noreturn]] void raise_value(const std::string& message);
void register_errors(py::module_& m);

[[nodiscard]] RingPtr attach_ring(const std::string& name, const std::optional<std::string>& dir, bus::Access access);

// Numpy views of a ring's slots, shaped by its pixel format, each made once
// and handed out again: a claimed frame's view then costs a reference, not a
// new array (which took 9 us in a consumer just woken). Every view keeps the
// mapping alive as long as it lives.
class SlotViews {
 public:
  SlotViews(RingPtr ring, bool writable);
  [[nodiscard]] py::object view(std::uint32_t slot);

 private:
  RingPtr ring_;
  bool writable_;
  std::vector<py::object> views_;  // per slot; none until first asked for
};
// The numpy shape and dtype a frame of this ring has.
[[nodiscard]] py::tuple frame_shape(const bus::RingGeometry& g);
[[nodiscard]] py::dtype frame_dtype(const bus::RingGeometry& g);

// A ring named shmyolo.<pipeline>.<rest>: the pipeline's name, if it is one.
[[nodiscard]] std::optional<std::string> pipeline_of(const std::string& ring_name);

// A pipeline's status segment, attached read-only and checked to be of this
// build's layout.
struct StatusHandle {
  RingPtr ring;
  const pipeline::PipelineStatus* status = nullptr;
};
[[nodiscard]] StatusHandle attach_status(const std::string& pipeline, const std::filesystem::path& dir);

// Seconds from Python (None: wait without end) as a deadline.
[[nodiscard]] std::optional<std::chrono::steady_clock::time_point> deadline_of(std::optional<double> timeout);

// Waits in slices of at most 0.1 s with the GIL released, checking for
// Ctrl-C between slices, until `attempt` gives something other than a
// timeout or the deadline passes. `attempt(slice)` runs without the GIL.
template <class T, class Attempt>
bus::BusResult<T> wait_releasing_gil(std::optional<std::chrono::steady_clock::time_point> deadline, Attempt attempt) {
  constexpr auto kSlice = std::chrono::milliseconds(100);  // how late Ctrl-C may be noticed
  while (true) {
    auto slice = std::chrono::nanoseconds(kSlice);
    if (deadline) {
      const auto left = *deadline - std::chrono::steady_clock::now();
      slice = std::max(std::chrono::nanoseconds(0), std::min<std::chrono::nanoseconds>(left, kSlice));
    }
    bus::BusResult<T> got = [&] {
      const py::gil_scoped_release unlocked;
      return attempt(slice);
    }();
    if (got || got.error().code != bus::BusErrc::timeout || !got.error().message.empty()) return got;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    if (deadline && std::chrono::steady_clock::now() >= *deadline) return got;
  }
}

}  // namespace shmyolo::python
