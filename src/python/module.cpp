// The `shmyolo` Python module: rings, producers, consumers and a pipeline's
// detections, zero-copy over shmyolo's frame bus (docs/python.md).
#include <fmt/format.h>
#include <pybind11/stl.h>
#include <shmyolo/bus/catalog.hpp>

#include "bindings.hpp"
#include "ring.hpp"

namespace shmyolo::python {
namespace {

std::string_view health_name(bus::RingHealth h) {
  switch (h) {
    case bus::RingHealth::active: return "active";
    case bus::RingHealth::no_producer: return "no_producer";
    case bus::RingHealth::stale: return "stale";
    case bus::RingHealth::closed: return "closed";
  }
  return "unknown";
}

py::dict counters_of(const bus::FrameRing& ring) {
  const auto& k = ring.header().counters;
  constexpr auto r = std::memory_order_relaxed;  // counters read for display
  py::dict d;
  d["published"] = k.published.load(r);
  d["dropped"] = k.dropped.load(r);
  d["claimed"] = k.claimed.load(r);
  d["released"] = k.released.load(r);
  d["reclaimed"] = k.reclaimed.load(r);
  d["rejected"] = k.rejected.load(r);
  return d;
}

py::dict segment_dict(const bus::SegmentInfo& s) {
  py::dict d;
  d["name"] = s.name;
  d["path"] = s.path.string();
  d["bytes"] = s.file_bytes;
  d["valid"] = s.valid;
  d["problem"] = s.problem;
  if (!s.valid) return d;
  d["width"] = s.geometry.width;
  d["height"] = s.geometry.height;
  d["format"] = std::string(bus::to_string(s.geometry.pixel_format));
  d["slots"] = s.geometry.slot_count;
  d["delivery"] = std::string(bus::to_string(s.policy.delivery));
  d["creator_pid"] = s.creator.pid;
  d["creator_alive"] = s.creator_alive;
  d["producer_pid"] = s.producer_pid;
  d["producer_alive"] = s.producer_alive;
  d["stale"] = bus::is_stale(s);
  d["published"] = s.counters.published;
  d["dropped"] = s.counters.dropped;
  d["claimed"] = s.counters.claimed;
  return d;
}

py::list ls(const std::optional<std::string>& dir) {
  auto segments = bus::list_segments(shm_dir_or_default(dir));
  if (!segments) raise(segments.error());
  py::list out;
  for (const auto& s : *segments) out.append(segment_dict(s));
  return out;
}

py::dict pipeline_info(const std::string& name, const std::optional<std::string>& dir) {
  const StatusHandle h = attach_status(name, shm_dir_or_default(dir));
  const auto& facts = h.status->facts;
  py::list cameras;
  for (std::uint32_t c = 0; c < std::min<std::uint32_t>(facts.camera_count, pipeline::kMaxCameras); ++c) {
    py::dict cam;
    const std::string camera(facts.cameras[c].data());
    cam["name"] = camera;
    cam["index"] = c;
    cam["external"] = facts.external[c] != 0;
    // relaxed: a state read for display.
    cam["state"] = pipeline::state_name(h.status->cameras[c].state.load(std::memory_order_relaxed));
    cam["ring"] = fmt::format("shmyolo.{}.cam.{}", name, camera);
    cameras.append(cam);
  }
  py::list classes;
  for (std::uint32_t i = 0; i < std::min<std::uint32_t>(facts.class_count, pipeline::kMaxClassNames); ++i)
    classes.append(std::string(facts.classes[i].data()));
  py::dict out;
  out["name"] = name;
  out["cameras"] = cameras;
  out["classes"] = classes;
  out["detections_ring"] = fmt::format("shmyolo.{}.detections", name);
  return out;
}

bus::PixelFormat format_named(const std::string& name) {
  for (const auto f : {bus::PixelFormat::gray8, bus::PixelFormat::bgr8, bus::PixelFormat::rgb8, bus::PixelFormat::bgra8,
                       bus::PixelFormat::rgb_f32_planar, bus::PixelFormat::opaque}) {
    if (bus::to_string(f) == name) return f;
  }
  raise_value(fmt::format("format {:?}: expected gray8, bgr8, rgb8, bgra8, rgb_f32_planar or opaque", name));
}

bus::Delivery delivery_named(const std::string& name) {
  if (name == "latest") return bus::Delivery::latest;
  if (name == "queue") return bus::Delivery::queue;
  raise_value(fmt::format("delivery {:?}: expected latest or queue", name));
}

// A ring this process creates and owns: removed when its last Python
// reference goes, or by `shmyolo gc` once this process has died.
RingPtr create_ring(const std::string& name, std::uint32_t width, std::uint32_t height, const std::string& format,
                    std::uint32_t slots, const std::string& delivery, const std::optional<std::string>& shm_dir) {
  bus::RingOptions o;
  o.name = name;
  o.dir = shm_dir_or_default(shm_dir);
  o.width = width;
  o.height = height;
  o.format = format_named(format);
  o.slot_count = slots;
  o.delivery = delivery_named(delivery);
  o.full_policy = bus::FullPolicy::fail;  // queue mode: the producer waits, then is told; nothing is dropped silently
  auto ring = bus::FrameRing::create(o);
  if (!ring) raise(ring.error());
  return std::make_shared<RingHandle>(RingHandle{std::move(*ring)});
}

void bind_ring(py::module_& m) {
  py::class_<RingHandle, RingPtr>(m, "Ring", "One frame ring in shared memory, mapped into this process.")
      .def_static(
          "attach",
          [](const std::string& name, const std::optional<std::string>& shm_dir) {
            return attach_ring(name, shm_dir, bus::Access::read_write);
          },
          py::arg("name"), py::arg("shm_dir") = py::none(),
          "Maps the ring NAME (e.g. 'shmyolo.demo.cam.door') from SHM_DIR (default /dev/shm or $SHMYOLO_SHM_DIR).")
      .def_static("create", &create_ring, py::arg("name"), py::arg("width"), py::arg("height"),
                  py::arg("format") = "bgr8", py::arg("slots") = 4, py::arg("delivery") = "latest",
                  py::arg("shm_dir") = py::none(),
                  "Creates a ring this process owns (removed when the last reference to it goes): NAME is "
                  "[A-Za-z0-9._-], FORMAT gray8, bgr8, rgb8, bgra8, rgb_f32_planar or opaque, DELIVERY latest or "
                  "queue.")
      .def(
          "close", [](RingHandle& r) { r.ring.close(); },
          "Creator: marks the ring closed (waiting consumers are told) and removes its file now.")
      .def_property_readonly(
          "mapping",
          [](const RingHandle& r) {
            return py::make_tuple(reinterpret_cast<std::uintptr_t>(&r.ring.header()), r.ring.mapped_bytes());
          },
          "(address, bytes) of this process's mapping: every view of a slot lies inside it.")
      .def_property_readonly("name", [](const RingHandle& r) { return r.ring.name(); })
      .def_property_readonly("path", [](const RingHandle& r) { return r.ring.path().string(); })
      .def_property_readonly("width", [](const RingHandle& r) { return r.ring.geometry().width; })
      .def_property_readonly("height", [](const RingHandle& r) { return r.ring.geometry().height; })
      .def_property_readonly(
          "format", [](const RingHandle& r) { return std::string(bus::to_string(r.ring.geometry().pixel_format)); })
      .def_property_readonly(
          "shape", [](const RingHandle& r) { return frame_shape(r.ring.geometry()); },
          "A frame's numpy shape: (height, width, 3) for bgr8.")
      .def_property_readonly("dtype", [](const RingHandle& r) { return frame_dtype(r.ring.geometry()); })
      .def_property_readonly("frame_bytes", [](const RingHandle& r) { return r.ring.geometry().frame_bytes; })
      .def_property_readonly("slots", [](const RingHandle& r) { return r.ring.geometry().slot_count; })
      .def_property_readonly("delivery",
                             [](const RingHandle& r) { return std::string(bus::to_string(r.ring.policy().delivery)); })
      .def_property_readonly(
          "health", [](const RingHandle& r) { return std::string(health_name(r.ring.health())); },
          "'active', 'no_producer', 'stale' (its producer died or stopped) or 'closed'.")
      .def_property_readonly("counters", [](const RingHandle& r) { return counters_of(r.ring); })
      .def("__repr__", [](const RingHandle& r) {
        const auto& g = r.ring.geometry();
        return fmt::format("<shmyolo.Ring {} {}x{} {} {} slots {}>", r.ring.name(), g.width, g.height,
                           bus::to_string(g.pixel_format), g.slot_count, bus::to_string(r.ring.policy().delivery));
      });
}

}  // namespace
}  // namespace shmyolo::python

PYBIND11_MODULE(shmyolo, m) {
  namespace py = pybind11;
  using namespace shmyolo::python;  // NOLINT(google-build-using-namespace): the bindings' own namespace
  m.doc() = "shmyolo's frame bus from Python: rings, producers, consumers and detections, zero-copy (docs/python.md).";
  register_errors(m);
  m.def("ls", &ls, py::arg("shm_dir") = py::none(),
        "The shmyolo rings in SHM_DIR, each a dict (name, valid, problem, width, height, format, slots, delivery, "
        "producer_pid, stale, published, ...), as `shmyolo ls` shows them.");
  m.def("pipeline_info", &pipeline_info, py::arg("name"), py::arg("shm_dir") = py::none(),
        "A running pipeline's cameras (name, index, external, state, ring) and the model's class names.");
  bind_ring(m);
  bind_producer(m);
  bind_consumer(m);
  bind_results(m);
}
