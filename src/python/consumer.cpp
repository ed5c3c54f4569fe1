// Consumer: Python claims frames (each frame to exactly one consumer of the
// ring), reads them through a read-only numpy view of the slot and releases
// them; and peek_latest copies the newest frame without claiming it.
#include <fmt/format.h>
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "pipeline/frame_record.hpp"
#include "ring.hpp"

namespace shmyolo::python {
namespace {

struct ConsumerState {
  RingPtr ring;
  std::unique_ptr<SlotViews> views;
  std::unique_ptr<bus::Consumer> consumer;  // refers to ring->ring, which never moves
};
using StatePtr = std::shared_ptr<ConsumerState>;

// Frame metadata as Python sees it, for claimed and peeked frames alike.
py::dict meta_dict(const bus::FrameInfo& info) {
  const bus::FrameMeta& m = info.meta;
  py::dict d;
  d["seq"] = info.frame_seq;
  d["slot"] = info.slot;
  d["capture_unix_ns"] = m.capture_unix_ns;
  d["capture_mono_ns"] = m.capture_mono_ns;
  d["publish_mono_ns"] = info.publish_mono_ns;
  d["source_size"] = py::make_tuple(m.source_width, m.source_height);
  d["scale"] = py::make_tuple(m.scale_x, m.scale_y);
  d["pad"] = py::make_tuple(m.pad_x, m.pad_y);
  // shmyolo's own frames carry a record: the camera and its frame number.
  if (const auto record = pipeline::read_record(m)) {
    if (const auto* camera = std::get_if<pipeline::CameraFrame>(&record->origin)) {
      d["camera"] = camera->camera;
      d["frame"] = camera->index;
    }
    d["crop"] = py::make_tuple(record->placement.crop_x, record->placement.crop_y);
  }
  return d;
}

// A claimed frame: the slot is this process's until release().
struct Frame {
  StatePtr state;
  bus::Claim claim;

  void release() {
    if (!claim.valid()) return;
    if (auto ok = claim.release(); !ok) raise(ok.error());
  }
};

StatePtr make_consumer(const RingPtr& ring, bool latest) {
  const bus::Delivery delivery = ring->ring.policy().delivery;
  if (latest != (delivery == bus::Delivery::latest)) {
    raise_value(fmt::format(
        "ring {} delivers {}: {}", ring->ring.name(), bus::to_string(delivery),
        latest ? "every frame once, in order, so latest=True would lose frames other consumers are owed (use "
                 "latest=False, or peek_latest() to look at the newest without claiming)"
               : "each claim takes the newest frame and drops older ones: say latest=True"));
  }
  auto s = std::make_shared<ConsumerState>();
  s->ring = ring;
  s->views = std::make_unique<SlotViews>(ring, false);
  s->consumer = std::make_unique<bus::Consumer>(ring->ring);
  return s;
}

Frame claim(const StatePtr& s, std::optional<double> timeout) {
  auto got = wait_releasing_gil<bus::Claim>(deadline_of(timeout),
                                            [&](std::chrono::nanoseconds slice) { return s->consumer->claim(slice); });
  if (!got) {
    if (got.error().code == bus::BusErrc::timeout && got.error().message.empty()) {
      got.error().message = fmt::format("no frame in ring {} within {} s", s->ring->ring.name(), timeout.value_or(0));
    }
    raise(got.error());
  }
  return Frame{s, std::move(*got)};
}

py::object peek_latest(const RingPtr& ring) {
  const auto& g = ring->ring.geometry();
  py::array out(frame_dtype(g), frame_shape(g).cast<std::vector<py::ssize_t>>());
  const std::size_t packed = static_cast<std::size_t>(out.nbytes());
  if (g.frame_bytes != packed) {
    raise_value(fmt::format("ring {} has padded rows: peek it through a consumer instead", ring->ring.name()));
  }
  auto info = [&] {
    const py::gil_scoped_release unlocked;
    return bus::peek_latest(ring->ring, {static_cast<std::byte*>(out.mutable_data()), packed});
  }();
  if (!info) {
    if (info.error().code == bus::BusErrc::timeout && info.error().message.empty()) return py::none();
    raise(info.error());
  }
  return py::make_tuple(out, meta_dict(*info));
}

}  // namespace

void bind_consumer(py::module_& m) {
  py::class_<Frame>(m, "Frame", "A claimed frame (a context manager): released on exit, or by release().")
      .def_property_readonly(
          "pixels",
          [](Frame& f) {
            if (!f.claim.valid()) raise_value("this frame was released: its slot may hold another frame now");
            return f.state->views->view(f.claim.info().slot);
          },
          "A read-only numpy view of the slot (no copy), valid until release().")
      .def_property_readonly(
          "meta", [](const Frame& f) { return meta_dict(f.claim.info()); },
          "seq, slot, capture_unix_ns, capture_mono_ns, publish_mono_ns, source_size, scale, "
          "pad; camera, frame and crop for shmyolo's own frames.")
      .def_property_readonly("seq", [](const Frame& f) { return f.claim.info().frame_seq; })
      .def_property_readonly("capture_unix_ns", [](const Frame& f) { return f.claim.info().meta.capture_unix_ns; })
      .def(
          "renew", [](const Frame& f) { f.claim.renew(); },
          "Extends the claim's lease: long work on one frame must renew it, or the frame is taken back.")
      .def("release", &Frame::release,
           "Frees the slot. Raises shmyolo.BusError if the lease had run out and the frame was taken back.")
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](Frame& f, const py::args&) { f.release(); });

  py::class_<ConsumerState, StatePtr>(m, "Consumer", "Claims frames from a ring: each frame goes to one consumer.")
      .def(py::init(&make_consumer), py::arg("ring"), py::arg("latest") = false,
           "LATEST must match the ring's delivery: False for queue rings (every frame once, in order), True for "
           "latest rings (each claim takes the newest frame).")
      .def("claim", &claim, py::arg("timeout") = py::none(),
           "The next frame (a Frame), waiting up to TIMEOUT seconds (None: until one comes) with the GIL released. "
           "Raises TimeoutError when none came, shmyolo.BusError when the ring was closed or its producer died.")
      .def(
          "peek_latest", [](const ConsumerState& s) { return peek_latest(s.ring); },
          "shmyolo.peek_latest(self.ring): the newest frame copied, without claiming it.")
      .def_property_readonly("ring", [](const ConsumerState& s) { return s.ring; });

  m.def("peek_latest", &peek_latest, py::arg("ring"),
        "A copy of the ring's newest frame and its metadata, (array, meta), without claiming it; None if the ring "
        "has no frame yet.");
}

}  // namespace shmyolo::python
