// Hand-built ONNX models for tests: a minimal protobuf writer and three tiny
// graphs. Real exports come from shared/models; these cover what none of
// those has (an unknown layout, a dynamic batch dimension, a failing run).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace shmyolo::test {

inline std::string varint(std::uint64_t v) {
  std::string s;
  while (v >= 0x80) {
    s += static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  s += static_cast<char>(v);
  return s;
}
inline std::string field(int number, const std::string& bytes) {
  return varint(static_cast<std::uint64_t>(number) << 3 | 2) + varint(bytes.size()) + bytes;
}
inline std::string field(int number, std::uint64_t value) {
  return varint(static_cast<std::uint64_t>(number) << 3) + varint(value);
}

// TypeProto of a float tensor; a negative dimension becomes the symbolic "batch".
inline std::string float_tensor_type(const std::vector<std::int64_t>& dims) {
  std::string shape;
  for (const auto d : dims) {
    shape += field(1, d < 0 ? field(2, std::string("batch")) : field(1, static_cast<std::uint64_t>(d)));
  }
  return field(1, field(1, std::uint64_t{1}) + field(2, shape));  // tensor_type {elem_type FLOAT, shape}
}

inline std::string value_info(const std::string& name, const std::vector<std::int64_t>& dims) {
  return field(1, name) + field(2, float_tensor_type(dims));
}

inline std::string model(const std::string& graph) {
  // ir_version 8, opset 13
  return field(1, std::uint64_t{8}) + field(8, field(2, std::uint64_t{13})) + field(7, graph);
}

// Identity on [1,3,32,32]: loads, but its output is no detection layout.
inline std::string identity_onnx() {
  const std::string graph = field(1, field(1, "x") + field(2, "y") + field(4, "Identity")) + field(2, "g") +
                            field(11, value_info("x", {1, 3, 32, 32})) + field(12, value_info("y", {1, 3, 32, 32}));
  return model(graph);
}

// x * 32 reshaped from [batch,3,32,32] into [batch,6,512]: a yolov8-layout
// output with 2 classes whose values are the input pixels scaled to input
// coordinates (so boxes land inside the image), batch dimension dynamic.
inline std::string reshape_batch_onnx(std::int64_t batch = 0) {
  std::string raw;
  for (const std::int64_t v : {batch, std::int64_t{6}, std::int64_t{512}}) {
    char b[8];
    std::memcpy(b, &v, 8);  // little-endian, as ONNX raw_data is
    raw.append(b, 8);
  }
  const std::string shape_tensor = field(1, std::uint64_t{3}) + field(2, std::uint64_t{7}) + field(8, "shape") +
                                   field(9, raw);  // dims [3], INT64, name, raw_data
  const float k = 32.0F;
  std::string kraw(4, '\0');
  std::memcpy(kraw.data(), &k, 4);
  const std::string scale_tensor = field(2, std::uint64_t{1}) + field(8, "k") + field(9, kraw);  // FLOAT scalar
  const std::string mul = field(1, "x") + field(1, "k") + field(2, "x32") + field(4, "Mul");
  const std::string reshape = field(1, "x32") + field(1, "shape") + field(2, "y") + field(4, "Reshape");
  const std::string graph = field(1, mul) + field(1, reshape) + field(2, "g") + field(5, shape_tensor) +
                            field(5, scale_tensor) + field(11, value_info("x", {-1, 3, 32, 32})) +
                            field(12, value_info("y", {-1, 6, 512}));
  return model(graph);
}

// The same, reshaped into [1,6,512] whatever the batch: it loads as a
// dynamic-batch yolov8-layout model and runs one image at a time, and a
// batch of two fails in the engine (6,144 values do not fit 3,072). A model
// that breaks at run time, on some inputs only, as real failures do.
inline std::string batch_failing_onnx() {
  return reshape_batch_onnx(1);
}

}  // namespace shmyolo::test
