// Producer: Python writes frames straight into a ring's slots, either through
// a writable numpy view of a slot or by handing a picture that is
// letterboxed into the slot as camera ingest does. Every frame carries
// shmyolo's frame record (src/pipeline/frame_record.hpp), so a pipeline's
// workers take it like one of their own cameras' frames.
#include <fmt/format.h>
#include <pybind11/stl.h>
#include <shmyolo/detect/model.hpp>
#include <shmyolo/ingest/slot_letterbox.hpp>

#include "bindings.hpp"
#include "pipeline/frame_record.hpp"
#include "ring.hpp"

namespace shmyolo::python {
namespace {

struct ProducerState {
  RingPtr ring;
  std::unique_ptr<SlotViews> views;
  std::unique_ptr<bus::Producer> producer;  // refers to ring->ring, which never moves
  std::uint32_t camera = 0;                 // the camera index the frame record names
  detect::Preprocessing preprocessing;      // how the pipeline's model letterboxes
  std::uint64_t frames = 0;                 // the record's frame number: frames published so far
};
using StatePtr = std::shared_ptr<ProducerState>;

// A ring of a running pipeline: the camera it belongs to and the model's
// letterbox, from the pipeline's status. A ring outside a pipeline: camera 0,
// Ultralytics' letterbox.
void learn_pipeline(ProducerState& s) {
  const std::string& name = s.ring->ring.name();
  const auto pipeline = pipeline_of(name);
  if (!pipeline) return;
  const std::string prefix = fmt::format("shmyolo.{}.cam.", *pipeline);
  if (!name.starts_with(prefix)) return;
  const StatusHandle h = attach_status(*pipeline, s.ring->ring.path().parent_path());
  const auto& facts = h.status->facts;
  const std::string camera = name.substr(prefix.size());
  for (std::uint32_t c = 0; c < std::min<std::uint32_t>(facts.camera_count, pipeline::kMaxCameras); ++c) {
    if (camera == facts.cameras[c].data()) s.camera = c;
  }
  s.preprocessing.letterbox = facts.letterbox != 0;
  s.preprocessing.centered = facts.centered != 0;
  s.preprocessing.pad_value = static_cast<std::uint8_t>(facts.pad_value);
}

StatePtr make_producer(const RingPtr& ring) {
  auto s = std::make_shared<ProducerState>();
  s->ring = ring;
  s->views = std::make_unique<SlotViews>(ring, true);
  learn_pipeline(*s);
  auto producer = bus::Producer::attach(ring->ring);
  if (!producer) raise(producer.error());
  s->producer = std::make_unique<bus::Producer>(std::move(*producer));
  return s;
}

// A free slot. Queue delivery waits for one (the bus waits up to the ring's
// queue wait each time, then this tries again) until `timeout` seconds have
// passed, or without end for None, and Ctrl-C still works; latest delivery
// never waits.
bus::WriteSlot acquire(ProducerState& s, std::optional<double> timeout) {
  auto slot = wait_releasing_gil<bus::WriteSlot>(deadline_of(timeout),
                                                 [&](std::chrono::nanoseconds) -> bus::BusResult<bus::WriteSlot> {
                                                   auto got = s.producer->acquire();
                                                   if (!got && got.error().code == bus::BusErrc::ring_full)
                                                     return bus::bus_error(bus::BusErrc::timeout, "");
                                                   return got;
                                                 });
  if (!slot) {
    if (slot.error().code == bus::BusErrc::timeout && slot.error().message.empty()) {
      slot.error().message = fmt::format("no free slot in ring {} within {} s: its consumers are not keeping up",
                                         s.ring->ring.name(), timeout.value_or(0));
    }
    raise(slot.error());
  }
  return *slot;
}

std::uint64_t publish(ProducerState& s, bus::WriteSlot& slot, const pipeline::Placement& placement,
                      std::optional<std::uint64_t> capture_unix_ns) {
  bus::FrameMeta meta;
  pipeline::write_record(
      meta, {.placement = placement, .origin = pipeline::CameraFrame{.camera = s.camera, .index = s.frames}});
  if (const auto checked = pipeline::read_record(meta); !checked) {
    s.producer->abandon(slot);
    const std::string& why = checked.error().message;
    raise_value(
        fmt::format("ring {}: {}: give publish() the source_size, scale and pad that place the picture "
                    "inside the slot (slot = source * scale + pad)",
                    s.ring->ring.name(), why.substr(0, why.find(" (shmyolo's producers"))));
  }
  meta.capture_unix_ns = capture_unix_ns.value_or(bus::unix_ns());
  meta.capture_mono_ns = bus::monotonic_ns();
  ++s.frames;
  return s.producer->publish(slot, meta);
}

// A slot being written from Python; given back unpublished if Python drops
// it without publishing.
struct Slot {
  StatePtr state;
  bus::WriteSlot slot;
  bool done = false;

  Slot(StatePtr s, bus::WriteSlot w) : state(std::move(s)), slot(w) {}
  Slot(Slot&& other) noexcept : state(std::move(other.state)), slot(other.slot), done(other.done) { other.done = true; }
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;
  Slot& operator=(Slot&&) = delete;
  ~Slot() { finish_unpublished(); }

  void finish_unpublished() {
    if (done) return;
    done = true;
    state->producer->abandon(slot);
  }
};

template <class T>
std::pair<T, T> pair_of(const std::optional<py::object>& value, T fallback) {
  if (!value || value->is_none()) return {fallback, fallback};
  if (py::isinstance<py::float_>(*value) || py::isinstance<py::int_>(*value)) {
    const T v = value->cast<T>();
    return {v, v};
  }
  return value->cast<std::pair<T, T>>();
}

std::uint64_t publish_slot(Slot& s, std::optional<std::uint64_t> capture_ns,
                           const std::optional<std::pair<std::uint32_t, std::uint32_t>>& source_size,
                           const std::optional<py::object>& scale, const std::optional<py::object>& pad) {
  if (s.done) raise_value("this slot was already published or given back: take a new one with producer.slot()");
  const auto& g = s.state->ring->ring.geometry();
  const auto [w, h] = source_size.value_or(std::pair{g.width, g.height});
  const auto [sx, sy] = pair_of<float>(scale, 1.0F);
  const auto [px, py_] = pair_of<float>(pad, 0.0F);
  const pipeline::Placement placement{.source_width = w,
                                      .source_height = h,
                                      .crop_x = 0,
                                      .crop_y = 0,
                                      .picture_width = w,
                                      .picture_height = h,
                                      .scale_x = sx,
                                      .scale_y = sy,
                                      .pad_x = px,
                                      .pad_y = py_};
  s.done = true;
  return publish(*s.state, s.slot, placement, capture_ns);
}

// A BGR picture (height x width x 3, uint8, rows contiguous) letterboxed into
// a fresh slot with the pipeline model's own placement.
std::uint64_t publish_frame(ProducerState& s, const py::array& frame, std::optional<std::uint64_t> capture_ns,
                            std::optional<double> timeout) {
  const auto& g = s.ring->ring.geometry();
  if (g.pixel_format != bus::PixelFormat::bgr8) {
    raise_value(
        fmt::format("ring {} holds {} frames: publish_frame letterboxes BGR pictures into bgr8 rings; write "
                    "other formats through producer.slot()",
                    s.ring->ring.name(), bus::to_string(g.pixel_format)));
  }
  if (!frame.dtype().is(py::dtype::of<std::uint8_t>()) || frame.ndim() != 3 || frame.shape(2) != 3 ||
      frame.strides(2) != 1 || frame.strides(1) != 3 || frame.shape(0) < 1 || frame.shape(1) < 1) {
    raise_value(
        fmt::format("publish_frame takes a BGR picture as a uint8 array of shape (height, width, 3) with "
                    "contiguous rows (OpenCV's layout), got dtype {} shape {}",
                    py::str(frame.dtype()).cast<std::string>(), py::str(frame.attr("shape")).cast<std::string>()));
  }
  const int width = static_cast<int>(frame.shape(1));
  const int height = static_cast<int>(frame.shape(0));
  bus::WriteSlot slot = acquire(s, timeout);
  detect::LetterboxTransform t;
  {
    const py::gil_scoped_release unlocked;  // `frame` stays referenced by the caller's argument
    t = ingest::letterbox_into_slot(
        {.data = static_cast<const std::uint8_t*>(frame.data()),
         .width = width,
         .height = height,
         .stride = static_cast<std::size_t>(frame.strides(0))},
        {.data = reinterpret_cast<std::uint8_t*>(slot.pixels().data()),  // NOLINT: slot bytes as pixels
         .width = static_cast<int>(g.width),
         .height = static_cast<int>(g.height),
         .stride = g.row_stride},
        s.preprocessing);
  }
  const auto w = static_cast<std::uint32_t>(width);
  const auto h = static_cast<std::uint32_t>(height);
  return publish(s, slot, pipeline::Placement::of(t, w, h, 0, 0, w, h), capture_ns);
}

}  // namespace

void bind_producer(py::module_& m) {
  py::class_<Slot>(m, "WriteSlot", "A free slot taken for writing: fill `pixels`, then publish().")
      .def_property_readonly(
          "pixels",
          [](Slot& s) {
            if (s.done) raise_value("this slot was published or given back: take a new one with producer.slot()");
            return s.state->views->view(s.slot.index());
          },
          "A writable numpy view of the slot's pixels (no copy). Do not keep it past publish().")
      .def_property_readonly("index", [](const Slot& s) { return s.slot.index(); })
      .def("publish", &publish_slot, py::arg("capture_ns") = py::none(), py::arg("source_size") = py::none(),
           py::arg("scale") = py::none(), py::arg("pad") = py::none(),
           "Makes the frame visible to consumers; returns its sequence number. CAPTURE_NS: the capture time in Unix "
           "ns (default now). SOURCE_SIZE (width, height), SCALE and PAD (a number or an (x, y) pair) say where "
           "the picture sits in the slot, slot = source * scale + pad, so boxes map back to the source; the "
           "default is the slot's own size, scale 1, pad 0.")
      .def("abandon", &Slot::finish_unpublished, "Gives the slot back unpublished.")
      .def("__enter__", [](py::object self) { return self; })
      .def(
          "__exit__", [](Slot& s, const py::args&) { s.finish_unpublished(); },
          "Gives the slot back unpublished unless publish() was called.");

  py::class_<ProducerState, StatePtr>(m, "Producer",
                                      "The one producer of a ring. In a pipeline's camera ring (a camera with "
                                      "`source: external`), frames carry that camera's record.")
      .def(py::init(&make_producer), py::arg("ring"),
           "Takes the ring's producer role; raises shmyolo.BusError while another live process holds it.")
      .def(
          "slot", [](const StatePtr& s, std::optional<double> timeout) { return Slot(s, acquire(*s, timeout)); },
          py::arg("timeout") = py::none(),
          "A free slot to write into (a context manager). Latest delivery never waits. Queue delivery waits while "
          "every slot is taken, without end by default (every frame is owed to the consumers), or up to TIMEOUT "
          "seconds (then TimeoutError); a closed ring raises shmyolo.BusError. The GIL is released meanwhile.")
      .def("publish_frame", &publish_frame, py::arg("frame"), py::arg("capture_ns") = py::none(),
           py::arg("timeout") = py::none(),
           "Letterboxes a BGR picture (uint8, height x width x 3, any size) into a slot exactly as shmyolo's camera "
           "ingest does, and publishes it; returns its sequence number. Waits for a slot as slot() does. The GIL "
           "is released meanwhile.")
      .def(
          "heartbeat", [](ProducerState& s) { s.producer->heartbeat(); },
          "Tells consumers the producer lives while it has no frame to send (call at least every second).")
      .def_property_readonly("ring", [](const ProducerState& s) { return s.ring; })
      .def_property_readonly(
          "camera", [](const ProducerState& s) { return s.camera; }, "The camera index its frames' records name.")
      .def_property_readonly(
          "frames", [](const ProducerState& s) { return s.frames; }, "Frames published.");
}

}  // namespace shmyolo::python
