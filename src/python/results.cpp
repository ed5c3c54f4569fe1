// Results: a pipeline's detections, read from its detections feed
// (include/shmyolo/pipeline/feed.hpp) without claiming, as dicts like the
// JSON lines or as structured numpy arrays.
#include <cstring>

#include <fmt/format.h>
#include <pybind11/stl.h>
#include <shmyolo/pipeline/feed.hpp>

#include "bindings.hpp"
#include "ring.hpp"

namespace shmyolo::python {
namespace {

py::dtype detection_dtype() {
  // The bytes of pipeline::FeedDetection.
  py::list fields;
  fields.append(py::make_tuple("class_id", "<i4"));
  fields.append(py::make_tuple("score", "<f4"));
  fields.append(py::make_tuple("box", "<f4", py::make_tuple(4)));
  fields.append(py::make_tuple("track_id", "<u8"));
  return py::dtype::from_args(fields);
}

struct Results {
  std::string pipeline;
  RingPtr feed;
  StatusHandle status;
  std::vector<std::byte> buffer;
  std::uint64_t next = 0;    // the feed sequence number to read next
  std::uint64_t missed = 0;  // records overwritten before this reader got to them
  std::uint64_t read = 0;
  py::dtype dtype = detection_dtype();  // made once: as_array reads use it for every record
};

Results open_results(const std::string& pipeline, const std::optional<std::string>& shm_dir, bool from_start) {
  const auto dir = shm_dir_or_default(shm_dir);
  Results r{.pipeline = pipeline,
            // Read-write: a reader that sleeps announces it in the header (frame_waiters), so the
            // aggregator wakes it; it writes nothing else.
            .feed = attach_ring(fmt::format("shmyolo.{}.detections", pipeline), shm_dir, bus::Access::read_write),
            .status = attach_status(pipeline, dir),
            .buffer = {},
            .next = 0,
            .missed = 0,
            .read = 0};
  r.buffer.resize(r.feed->ring.geometry().frame_bytes);
  // relaxed: where to start; records already published are before it.
  if (!from_start) r.next = r.feed->ring.header().next_frame_seq.load(std::memory_order_relaxed);
  return r;
}

std::string class_name(const Results& r, std::int32_t id) {
  const auto& facts = r.status.status->facts;
  if (id >= 0 && static_cast<std::uint32_t>(id) < std::min<std::uint32_t>(facts.class_count, pipeline::kMaxClassNames))
    return facts.classes[static_cast<std::size_t>(id)].data();
  return fmt::format("class{}", id);
}

py::list detection_dicts(const Results& r, const pipeline::FeedRecord& head, const std::byte* items) {
  py::list out;
  for (std::uint32_t i = 0; i < head.count; ++i) {
    pipeline::FeedDetection d{};
    std::memcpy(&d, items + i * sizeof d, sizeof d);
    py::dict j;
    j["class_id"] = d.class_id;
    j["class"] = class_name(r, d.class_id);
    j["score"] = d.score;
    j["box"] = py::make_tuple(d.x1, d.y1, d.x2, d.y2);
    if ((head.flags & pipeline::kFeedTracked) != 0)
      j["track_id"] = d.track_id != 0 ? py::object(py::int_(d.track_id)) : py::none();
    out.append(j);
  }
  return out;
}

py::dict record_dict(const Results& r, const bus::FrameInfo& info, bool as_array) {
  pipeline::FeedRecord head{};
  std::memcpy(&head, r.buffer.data(), pipeline::kFeedHeaderBytes);
  const std::size_t room = (r.buffer.size() - pipeline::kFeedHeaderBytes) / sizeof(pipeline::FeedDetection);
  const auto& facts = r.status.status->facts;
  if (head.count > room || head.camera >= std::min<std::uint32_t>(facts.camera_count, pipeline::kMaxCameras)) {
    raise(bus::BusError{bus::BusErrc::invalid_header,
                        fmt::format("ring {}: record {} is not one the aggregator wrote (camera {}, {} detections)",
                                    r.feed->ring.name(), info.frame_seq, head.camera, head.count)});
  }
  py::dict d;
  d["camera"] = std::string(facts.cameras[head.camera].data());
  d["camera_index"] = head.camera;
  d["frame"] = head.source_index;
  d["seq"] = head.frame_seq;
  d["capture_unix_ns"] = head.capture_unix_ns;
  d["capture_mono_ns"] = head.capture_mono_ns;
  d["done_mono_ns"] = head.done_mono_ns;
  d["width"] = head.source_width;
  d["height"] = head.source_height;
  d["worker"] = head.worker;
  const std::byte* items = r.buffer.data() + pipeline::kFeedHeaderBytes;
  if (as_array) {
    py::array a(r.dtype, std::vector<py::ssize_t>{static_cast<py::ssize_t>(head.count)});
    std::memcpy(a.mutable_data(), items, head.count * sizeof(pipeline::FeedDetection));
    d["detections"] = a;
  } else {
    d["detections"] = detection_dicts(r, head, items);
  }
  return d;
}

bus::BusResult<bus::FrameInfo> wait_next(Results& r, std::optional<double> timeout) {
  auto info = wait_releasing_gil<bus::FrameInfo>(deadline_of(timeout), [&](std::chrono::nanoseconds slice) {
    return bus::wait_from(r.feed->ring, r.next, r.buffer, slice);
  });
  if (!info && info.error().code == bus::BusErrc::timeout && info.error().message.empty()) {
    info.error().message = fmt::format("no detections from pipeline {} within {} s", r.pipeline, timeout.value_or(0));
  }
  return info;
}

py::dict take(Results& r, const bus::FrameInfo& info, bool as_array) {
  r.missed += info.frame_seq - r.next;
  r.next = info.frame_seq + 1;
  ++r.read;
  return record_dict(r, info, as_array);
}

// The next record, or TimeoutError; shmyolo.BusError once the pipeline stops.
py::dict read_next(Results& r, std::optional<double> timeout, bool as_array) {
  const auto info = wait_next(r, timeout);
  if (!info) raise(info.error());
  return take(r, *info, as_array);
}

// Iteration ends when the pipeline stops.
py::dict next_record(Results& r) {
  const auto info = wait_next(r, std::nullopt);
  if (!info && info.error().code == bus::BusErrc::closed) throw py::stop_iteration();
  if (!info) raise(info.error());
  return take(r, *info, false);
}

}  // namespace

void bind_results(py::module_& m) {
  m.attr("detection_dtype") = detection_dtype();
  py::class_<Results>(m, "Results",
                      "A running pipeline's detections, one record per camera frame in each camera's frame order, "
                      "with track ids: iterate for dicts like the JSON lines, or read(as_array=True).")
      .def(py::init(&open_results), py::arg("pipeline"), py::arg("shm_dir") = py::none(), py::arg("from_start") = false,
           "Follows pipeline PIPELINE's detections from now (FROM_START: from the oldest still held, up to 128). "
           "Readers take nothing from the pipeline's outputs or from each other.")
      .def("read", &read_next, py::arg("timeout") = py::none(), py::arg("as_array") = false,
           "The next record: camera, camera_index, frame, seq, capture_unix_ns, width, height, worker and "
           "detections (dicts with class_id, class, score, box, track_id; or with AS_ARRAY a numpy array of "
           "shmyolo.detection_dtype). Waits up to TIMEOUT s (None: until one comes) with the GIL released; "
           "raises TimeoutError, or shmyolo.BusError once the pipeline has stopped.")
      .def_property_readonly(
          "missed", [](const Results& r) { return r.missed; },
          "Records overwritten before this reader got to them (it fell 128 records behind).")
      .def_property_readonly(
          "count", [](const Results& r) { return r.read; }, "Records read.")
      .def("__iter__", [](py::object self) { return self; })
      .def("__next__", &next_record);
}

}  // namespace shmyolo::python
