#include "ring.hpp"

#include <fmt/format.h>
#include <pybind11/stl.h>
#include <shmyolo/bus/catalog.hpp>

namespace shmyolo::python {
namespace {

PyObject* bus_error_type = nullptr;  // shmyolo.BusError, created at import

PyObject* exception_for(bus::BusErrc code) {
  switch (code) {
    case bus::BusErrc::not_found: return PyExc_FileNotFoundError;
    case bus::BusErrc::permission_denied: return PyExc_PermissionError;
    case bus::BusErrc::timeout: return PyExc_TimeoutError;
    case bus::BusErrc::invalid_argument: return PyExc_ValueError;
    default: return bus_error_type;
  }
}

}  // namespace

std::filesystem::path shm_dir_or_default(const std::optional<std::string>& dir) {
  return dir ? std::filesystem::path(*dir) : bus::default_shm_dir();
}

void raise(const bus::BusError& error) {
  const std::string message(error.what());
  PyErr_SetString(exception_for(error.code), message.c_str());
  throw py::error_already_set();
}

void raise_value(const std::string& message) {
  PyErr_SetString(PyExc_ValueError, message.c_str());
  throw py::error_already_set();
}

void register_errors(py::module_& m) {
  static py::exception<std::runtime_error> type(m, "BusError", PyExc_RuntimeError);
  bus_error_type = type.ptr();
  m.attr("BusError").attr("__doc__") =
      "A frame-bus error with no closer built-in type: a ring closed or stale, a header that is not a "
      "ring's, another live producer, a full ring. The message names the ring and what to do.";
}

RingPtr attach_ring(const std::string& name, const std::optional<std::string>& dir, bus::Access access) {
  auto ring = bus::FrameRing::attach(name, shm_dir_or_default(dir), access);
  if (!ring) raise(ring.error());
  return std::make_shared<RingHandle>(RingHandle{std::move(*ring)});
}

py::dtype frame_dtype(const bus::RingGeometry& g) {
  return g.pixel_format == bus::PixelFormat::rgb_f32_planar ? py::dtype::of<float>() : py::dtype::of<std::uint8_t>();
}

namespace {

struct Layout {
  std::vector<py::ssize_t> shape;
  std::vector<py::ssize_t> strides;
};

Layout layout_of(const bus::RingGeometry& g) {
  const auto h = static_cast<py::ssize_t>(g.height);
  const auto w = static_cast<py::ssize_t>(g.width);
  const auto row = static_cast<py::ssize_t>(g.row_stride);
  switch (g.pixel_format) {
    case bus::PixelFormat::gray8: return {{h, w}, {row, 1}};
    case bus::PixelFormat::bgr8:
    case bus::PixelFormat::rgb8: return {{h, w, 3}, {row, 3, 1}};
    case bus::PixelFormat::bgra8: return {{h, w, 4}, {row, 4, 1}};
    case bus::PixelFormat::rgb_f32_planar: return {{3, h, w}, {h * row, row, 4}};
    case bus::PixelFormat::opaque: break;
  }
  return {{static_cast<py::ssize_t>(g.frame_bytes)}, {1}};
}

}  // namespace

py::tuple frame_shape(const bus::RingGeometry& g) {
  return py::cast(layout_of(g).shape);
}

SlotViews::SlotViews(RingPtr ring, bool writable)
    : ring_(std::move(ring)), writable_(writable), views_(ring_->ring.geometry().slot_count) {}

py::object SlotViews::view(std::uint32_t slot) {
  py::object& view = views_.at(slot);
  if (view) return view;
  const auto& g = ring_->ring.geometry();
  const Layout l = layout_of(g);
  // The base: a capsule owning a reference to the mapping.
  const py::capsule owner(new RingPtr(ring_), [](void* p) { delete static_cast<RingPtr*>(p); });
  py::array a(frame_dtype(g), l.shape, l.strides, ring_->ring.slot_pixels(slot), owner);
  if (!writable_) a.attr("setflags")(py::arg("write") = false);
  view = a;
  return view;
}

std::optional<std::string> pipeline_of(const std::string& ring_name) {
  constexpr std::string_view kPrefix = "shmyolo.";
  if (!ring_name.starts_with(kPrefix)) return std::nullopt;
  const std::size_t dot = ring_name.find('.', kPrefix.size());
  if (dot == std::string::npos) return std::nullopt;
  return ring_name.substr(kPrefix.size(), dot - kPrefix.size());
}

StatusHandle attach_status(const std::string& pipeline, const std::filesystem::path& dir) {
  const std::string name = fmt::format("shmyolo.{}.status", pipeline);
  auto ring = bus::FrameRing::attach(name, dir, bus::Access::read_only);
  if (!ring) raise(ring.error());
  auto handle = std::make_shared<RingHandle>(RingHandle{std::move(*ring)});
  const auto& g = handle->ring.geometry();
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the creator placed the status there
  const auto* status = reinterpret_cast<const pipeline::PipelineStatus*>(handle->ring.slot_pixels(0));
  // acquire: pairs with the creator's release of the layout tag.
  if (g.slot_count != 1 || g.frame_bytes < sizeof(pipeline::PipelineStatus) ||
      status->layout.load(std::memory_order_acquire) != pipeline::kStatusLayout) {
    raise(bus::BusError{bus::BusErrc::version_mismatch,
                        fmt::format("segment {} in {} holds the status of another shmyolo build: use the Python "
                                    "package of the shmyolo that runs the pipeline",
                                    name, dir.string())});
  }
  return {handle, status};
}

std::optional<std::chrono::steady_clock::time_point> deadline_of(std::optional<double> timeout) {
  if (!timeout) return std::nullopt;
  if (*timeout < 0) raise_value(fmt::format("timeout must be 0 or more seconds (or None to wait), got {}", *timeout));
  return std::chrono::steady_clock::now() +
         std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(*timeout));
}

}  // namespace shmyolo::python
