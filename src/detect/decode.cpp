#include <shmyolo/detect/decode.hpp>

#include "decoders.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <string>

#include <shmyolo/detect/layouts.hpp>

namespace shmyolo::detect {

float iou(const Box& a, const Box& b) {
  const Box inter{std::max(a.x1, b.x1), std::max(a.y1, b.y1), std::min(a.x2, b.x2), std::min(a.y2, b.y2)};
  const float i = inter.area();
  const float u = a.area() + b.area() - i;
  return u > 0 ? i / u : 0.0F;
}

std::int64_t OutputTensor::elements() const {
  std::int64_t n = 1;
  for (const auto d : shape) n *= d;
  return n;
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

namespace {

std::unexpected<DetectError> shape_error(const ModelInfo& m, const OutputTensor& t, const std::string& expected) {
  return detect_error(DetectErrc::layout_unknown, "model " + m.path.string() + ": output shape " + shape_text(t.shape) +
                                                      " does not fit the " + to_string(m.layout) +
                                                      " layout (expected " + expected +
                                                      "); pass --layout to say which layout it has");
}

bool kept(const DecodeParams& p, int cls) {
  return p.keep_class.empty() || (cls >= 0 && static_cast<std::size_t>(cls) < p.keep_class.size() &&
                                  p.keep_class[static_cast<std::size_t>(cls)]);
}

void add(std::vector<Candidate>& out, const DecodeParams& p, float cx, float cy, float w, float h, float score,
         int cls) {
  if (!(score > p.confidence) || !kept(p, cls)) return;
  const Box box{cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2};
  // Garbage outputs (NaN, inf, or values that overflow here) never become boxes.
  if (std::isfinite(box.x1) && std::isfinite(box.y1) && std::isfinite(box.x2) && std::isfinite(box.y2)) {
    out.push_back({box, score, cls});
  }
}

// [B, 4+nc, N]: rows are features, columns anchors. Scanning row by row keeps
// the reads sequential (the naive per-anchor walk strides by N floats).
}  // namespace

DetectResult<void> decode_yolov8(const ModelInfo& m, std::span<const OutputTensor> outputs, int b,
                                 const DecodeParams& p, std::vector<Candidate>& out) {
  const OutputTensor& t = outputs[0];
  const int nc = m.num_classes;
  if (t.shape.size() != 3 || t.shape[1] != 4 + nc || b >= t.shape[0] || nc <= 0) {
    return shape_error(m, t, "[batch, 4+" + std::to_string(nc) + ", anchors]");
  }
  const auto n = static_cast<std::size_t>(t.shape[2]);
  const float* base = t.data + static_cast<std::size_t>(b) * (4 + nc) * n;
  thread_local std::vector<float> best;
  thread_local std::vector<int> best_class;
  best.assign(base + 4 * n, base + 5 * n);
  best_class.assign(n, 0);
  for (int c = 1; c < nc; ++c) {
    const float* row = base + (4 + static_cast<std::size_t>(c)) * n;
    for (std::size_t j = 0; j < n; ++j) {
      if (row[j] > best[j]) {
        best[j] = row[j];
        best_class[j] = c;
      }
    }
  }
  for (std::size_t j = 0; j < n; ++j) {
    if (best[j] > p.confidence)
      add(out, p, base[j], base[n + j], base[2 * n + j], base[3 * n + j], best[j], best_class[j]);
  }
  return {};
}

namespace {

// [B, N, 5+nc]; yolov5 boxes are decoded already, YOLOX boxes are grid offsets.
DetectResult<void> decode_rows(const ModelInfo& m, const OutputTensor& t, int b, const DecodeParams& p,
                               std::vector<Candidate>& out) {
  const int nc = m.num_classes;
  if (t.shape.size() != 3 || t.shape[2] != 5 + nc || b >= t.shape[0] || nc <= 0) {
    return shape_error(m, t, "[batch, anchors, 5+" + std::to_string(nc) + "]");
  }
  const auto n = static_cast<std::size_t>(t.shape[1]);
  const std::size_t width = 5 + static_cast<std::size_t>(nc);
  const float* base = t.data + static_cast<std::size_t>(b) * n * width;
  // YOLOX: rows run stride by stride, row-major inside each grid.
  std::vector<std::array<int, 3>> grid;  // gx, gy, stride per row
  if (m.layout == OutputLayout::yolox) {
    for (const int s : m.strides) {
      for (int gy = 0; gy < m.input_height / s; ++gy) {
        for (int gx = 0; gx < m.input_width / s; ++gx) grid.push_back({gx, gy, s});
      }
    }
    if (grid.size() != n) {
      return shape_error(m, t, std::to_string(grid.size()) + " anchors for strides 8/16/32 at this input size");
    }
  }
  for (std::size_t j = 0; j < n; ++j) {
    const float* r = base + j * width;
    const float obj = r[4];
    if (!(obj > p.confidence)) continue;  // score = obj * cls <= obj
    const float* cls = r + 5;
    const auto best = static_cast<int>(std::max_element(cls, cls + nc) - cls);
    const float score = obj * cls[best];
    if (m.layout == OutputLayout::yolox) {
      const auto [gx, gy, s] = grid[j];
      const auto fs = static_cast<float>(s);
      add(out, p, (r[0] + static_cast<float>(gx)) * fs, (r[1] + static_cast<float>(gy)) * fs, std::exp(r[2]) * fs,
          std::exp(r[3]) * fs, score, best);
    } else {
      add(out, p, r[0], r[1], r[2], r[3], score, best);
    }
  }
  return {};
}

}  // namespace

DetectResult<void> decode_yolov5(const ModelInfo& m, std::span<const OutputTensor> outputs, int b,
                                 const DecodeParams& p, std::vector<Candidate>& out) {
  return decode_rows(m, outputs[0], b, p, out);
}

DetectResult<void> decode_yolox(const ModelInfo& m, std::span<const OutputTensor> outputs, int b, const DecodeParams& p,
                                std::vector<Candidate>& out) {
  return decode_rows(m, outputs[0], b, p, out);
}

// [B, K, 6]: x1, y1, x2, y2, score, class; already suppressed by the model.
DetectResult<void> decode_end_to_end(const ModelInfo& m, std::span<const OutputTensor> outputs, int b,
                                     const DecodeParams& p, std::vector<Candidate>& out) {
  const OutputTensor& t = outputs[0];
  if (t.shape.size() != 3 || t.shape[2] != 6 || b >= t.shape[0]) return shape_error(m, t, "[batch, detections, 6]");
  const auto k = static_cast<std::size_t>(t.shape[1]);
  const float* base = t.data + static_cast<std::size_t>(b) * k * 6;
  for (std::size_t j = 0; j < k; ++j) {
    const float* r = base + j * 6;
    // The class is a float in the tensor: range-check before converting.
    if (!(r[5] >= 0.0F && r[5] < static_cast<float>(std::max(m.num_classes, 1)))) continue;
    const int cls = static_cast<int>(r[5]);
    if (!(r[4] > p.confidence) || !kept(p, cls)) continue;
    if (!std::all_of(r, r + 4, [](float v) { return std::isfinite(v); })) continue;
    out.push_back({Box{r[0], r[1], r[2], r[3]}, r[4], cls});
  }
  return {};
}

// OpenCV's Darknet region layers: [R, 5+nc] per head, boxes normalised to
// 0..1, class scores already multiplied by objectness (below 0.2 zeroed).
DetectResult<void> decode_darknet(const ModelInfo& m, std::span<const OutputTensor> outputs, int /*batch*/,
                                  const DecodeParams& p, std::vector<Candidate>& out) {
  const int nc = m.num_classes;
  const auto w = static_cast<float>(m.input_width);
  const auto h = static_cast<float>(m.input_height);
  for (const auto& t : outputs) {
    if (t.shape.size() != 2 || t.shape[1] != 5 + nc) return shape_error(m, t, "[rows, 5+" + std::to_string(nc) + "]");
    const std::size_t width = 5 + static_cast<std::size_t>(nc);
    for (std::int64_t j = 0; j < t.shape[0]; ++j) {
      const float* r = t.data + static_cast<std::size_t>(j) * width;
      const float* cls = r + 5;
      const auto best = static_cast<int>(std::max_element(cls, cls + nc) - cls);
      add(out, p, r[0] * w, r[1] * h, r[2] * w, r[3] * h, cls[best], best);
    }
  }
  return {};
}

// Yolo-FastestV2 [cells, 15+nc]: per cell 3 anchors x (tx,ty,tw,th), 3
// objectness values, then class probabilities shared by the anchors. Cells
// run stride 16 then stride 32, row-major. All values already sigmoid/softmax.
DetectResult<void> decode_fastestv2(const ModelInfo& m, std::span<const OutputTensor> outputs, int /*batch*/,
                                    const DecodeParams& p, std::vector<Candidate>& out) {
  const OutputTensor& t = outputs[0];
  // Anchors of the COCO model in 352-input pixels (its upstream config).
  static constexpr std::array<std::array<float, 6>, 2> kAnchors{
      {{12.64F, 19.39F, 37.88F, 51.48F, 55.71F, 138.31F}, {126.91F, 78.23F, 131.57F, 214.55F, 279.92F, 258.87F}}};
  const int nc = m.num_classes;
  std::int64_t cells = 0;
  for (const int s : m.strides) cells += static_cast<std::int64_t>(m.input_width / s) * (m.input_height / s);
  if (t.shape.size() != 2 || t.shape[1] != 15 + nc || t.shape[0] != cells || m.strides.size() != 2) {
    return shape_error(m, t, "[" + std::to_string(cells) + ", 15+" + std::to_string(nc) + "]");
  }
  const std::size_t width = 15 + static_cast<std::size_t>(nc);
  std::size_t row = 0;
  for (std::size_t level = 0; level < 2; ++level) {
    const int s = m.strides[level];
    const auto fs = static_cast<float>(s);
    for (int gy = 0; gy < m.input_height / s; ++gy) {
      for (int gx = 0; gx < m.input_width / s; ++gx, ++row) {
        const float* r = t.data + row * width;
        const float* cls = r + 15;
        const auto best = static_cast<int>(std::max_element(cls, cls + nc) - cls);
        for (std::size_t a = 0; a < 3; ++a) {
          const float* box = r + a * 4;
          const float tw = box[2] * 2;
          const float th = box[3] * 2;
          add(out, p, (box[0] * 2 - 0.5F + static_cast<float>(gx)) * fs,
              (box[1] * 2 - 0.5F + static_cast<float>(gy)) * fs, tw * tw * kAnchors[level][a * 2],
              th * th * kAnchors[level][a * 2 + 1], r[12 + a] * cls[best], best);
        }
      }
    }
  }
  return {};
}

DetectResult<void> decode(const ModelInfo& model, std::span<const OutputTensor> outputs, int batch_index,
                          const DecodeParams& params, std::vector<Candidate>& out) {
  if (outputs.empty() || outputs[0].data == nullptr) {
    return detect_error(DetectErrc::inference_failed, "model " + model.path.string() + " produced no output");
  }
  for (const auto& t : outputs) {
    for (const auto d : t.shape) {
      if (d <= 0) return shape_error(model, t, "positive dimensions");
    }
  }
  const std::size_t before = out.size();
  if (auto r = spec_of(model.layout).decode(model, outputs, batch_index, params, out); !r) return r;
  if (out.size() - before > params.max_candidates) {
    auto first = out.begin() + static_cast<std::ptrdiff_t>(before);
    std::nth_element(first, first + static_cast<std::ptrdiff_t>(params.max_candidates), out.end(),
                     [](const Candidate& a, const Candidate& b) { return a.score > b.score; });
    out.resize(before + params.max_candidates);
  }
  return {};
}

std::vector<Candidate> non_max_suppression(std::vector<Candidate> candidates, float iou_threshold,
                                           std::size_t max_detections) {
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const Candidate& a, const Candidate& b) { return a.score > b.score; });
  std::vector<Candidate> kept;
  for (const Candidate& c : candidates) {
    if (kept.size() >= max_detections) break;
    const bool suppressed = std::any_of(kept.begin(), kept.end(), [&](const Candidate& k) {
      return k.class_id == c.class_id && iou(k.box, c.box) > iou_threshold;
    });
    if (!suppressed) kept.push_back(c);
  }
  return kept;
}

}  // namespace shmyolo::detect
