// libFuzzer target: random output shapes and values through every decoder
// and NMS. A shape that does not fit the layout must be refused, never read
// out of bounds; NaNs and infinities must not crash or leak into results.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <shmyolo/detect/decode.hpp>
#include <shmyolo/detect/layouts.hpp>

using namespace shmyolo::detect;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 8) return 0;
  ModelInfo m;
  const auto all = layouts();
  m.layout = all[data[0] % all.size()].layout;
  m.num_classes = 1 + data[1] % 90;
  m.input_width = 32 * (1 + data[2] % 20);
  m.input_height = 32 * (1 + data[3] % 20);
  m.strides = m.layout == OutputLayout::fastestv2 ? std::vector<int>{16, 32} : std::vector<int>{8, 16, 32};
  const int rank = 2 + data[4] % 2;
  std::vector<std::int64_t> shape;
  for (int i = 0; i < rank; ++i) shape.push_back(1 + data[5 + i] % 120);
  data += 8;
  size -= 8;
  OutputTensor t;
  t.shape = shape;
  std::vector<float> values(static_cast<std::size_t>(t.elements()));
  // Fill from the input bytes (cycled), so scores, boxes, NaN and inf all occur.
  for (std::size_t i = 0; i < values.size() && size >= 4; ++i) {
    std::memcpy(&values[i], data + (i * 4) % (size - size % 4 == 0 ? 4 : size - size % 4), 4);
  }
  t.data = values.data();
  std::vector<Candidate> out;
  DecodeParams p;
  p.confidence = 0.1F;
  const auto r = decode(m, std::span(&t, 1), 0, p, out);
  if (!r && r.error().message.empty()) std::abort();
  for (const auto& c : out) {
    const bool finite =
        std::isfinite(c.box.x1) && std::isfinite(c.box.y1) && std::isfinite(c.box.x2) && std::isfinite(c.box.y2);
    if (!finite || c.class_id < 0 || c.class_id >= m.num_classes) std::abort();
  }
  const auto kept = non_max_suppression(out, 0.45F, 300);
  if (kept.size() > out.size() || kept.size() > 300) std::abort();
  return 0;
}
