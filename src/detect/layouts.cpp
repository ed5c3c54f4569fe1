#include <shmyolo/detect/layouts.hpp>

#include <array>
#include <cstdint>

#include "decoders.hpp"

namespace shmyolo::detect {
namespace {

// The first output's dimension `index` minus the box and score features
// before the class scores; 0 when the output has another rank.
template <std::size_t Rank, std::size_t Index, std::int64_t Features>
int classes_after(const ModelInfo& m) {
  const auto& s = m.output_shapes.at(0);
  return s.size() == Rank ? static_cast<int>(s[Index] - Features) : 0;
}

// NMS-free exports carry the class as a value, not a score column: the count
// comes from the names, or COCO's 80.
int classes_from_names(const ModelInfo& m) {
  return m.names.empty() ? 80 : static_cast<int>(m.names.size());
}

constexpr std::array<std::string_view, 3> kYolov8Aliases{"yolo11", "v8", "v11"};
constexpr std::array<std::string_view, 2> kEndToEndAliases{"yolov10", "v10"};
constexpr std::array kStrides8To32{8, 16, 32};
constexpr std::array kStrides16To32{16, 32};

// Ultralytics: RGB, /255, centred letterbox, pad 114 (the Preprocessing defaults).
constexpr Preprocessing kUltralytics{};

const std::array kLayouts{
    LayoutSpec{.layout = OutputLayout::yolov8,
               .name = "yolov8",
               .aliases = kYolov8Aliases,
               .output = "`[B, 4+nc, N]`: cx, cy, w, h, class scores (v8, v9, YOLO11)",
               .recognised_by = "features < anchors",
               .preprocessing = kUltralytics,
               .num_classes = classes_after<3, 1, 4>,
               .decode = decode_yolov8},
    LayoutSpec{.layout = OutputLayout::yolov5,
               .name = "yolov5",
               .output = "`[B, N, 5+nc]`: cx, cy, w, h, objectness, class scores",
               .recognised_by = "N = 3 × cells at strides 8/16/32",
               .preprocessing = kUltralytics,
               .num_classes = classes_after<3, 2, 5>,
               .decode = decode_yolov5},
    LayoutSpec{.layout = OutputLayout::end_to_end,
               .name = "end2end",
               .aliases = kEndToEndAliases,
               .output = "`[B, K, 6]`: x1, y1, x2, y2, score, class (YOLOv10, NMS-free exports)",
               .recognised_by = "last dimension 6",
               .preprocessing = kUltralytics,
               .num_classes = classes_from_names,
               .decode = decode_end_to_end},
    LayoutSpec{.layout = OutputLayout::yolox,
               .name = "yolox",
               .output = "`[B, N, 5+nc]`: raw grid offsets, objectness, class scores",
               .recognised_by = "N = cells at strides 8/16/32",
               // YOLOX: BGR, 0..255, image at the top-left, pad 114 right and bottom.
               .preprocessing = Preprocessing{.rgb = false, .scale = 1.0F, .centered = false},
               .strides = kStrides8To32,
               .num_classes = classes_after<3, 2, 5>,
               .decode = decode_yolox},
    LayoutSpec{.layout = OutputLayout::darknet,
               .name = "darknet",
               .output = "OpenCV region layers `[R, 5+nc]` per head: normalised boxes, scores × objectness",
               .recognised_by = "a Darknet cfg",
               .preprocessing = Preprocessing{.letterbox = false},  // RGB, /255, plain resize
               .num_classes = classes_after<2, 1, 5>,
               .decode = decode_darknet},
    LayoutSpec{.layout = OutputLayout::fastestv2,
               .name = "fastestv2",
               .output = "`[cells, 15+nc]`: 3 anchors per cell, shared class scores (Yolo-FastestV2)",
               .recognised_by = "cells at strides 16/32, 2-D output",
               .preprocessing = Preprocessing{.rgb = false, .letterbox = false},  // BGR, /255, plain resize
               .strides = kStrides16To32,
               .num_classes = classes_after<2, 1, 15>,
               .decode = decode_fastestv2},
};

}  // namespace

std::span<const LayoutSpec> layouts() {
  return kLayouts;
}

const LayoutSpec& spec_of(OutputLayout layout) {
  for (const auto& spec : kLayouts) {
    if (spec.layout == layout) return spec;
  }
  // Every enumerator has an entry (layouts_test checks it); a value cast from
  // outside the enum decodes as yolov8, whose shape check then refuses it.
  return kLayouts[0];
}

std::optional<OutputLayout> parse_layout(std::string_view text) {
  for (const auto& spec : kLayouts) {
    if (spec.name == text) return spec.layout;
    for (const auto alias : spec.aliases) {
      if (alias == text) return spec.layout;
    }
  }
  return std::nullopt;
}

std::string to_string(OutputLayout layout) {
  return std::string(spec_of(layout).name);
}

Preprocessing preprocessing_for(OutputLayout layout) {
  return spec_of(layout).preprocessing;
}

std::vector<std::string> layout_names_and_aliases() {
  std::vector<std::string> names;
  for (const auto& spec : kLayouts) {
    names.emplace_back(spec.name);
    names.insert(names.end(), spec.aliases.begin(), spec.aliases.end());
  }
  return names;
}

std::string layout_table_markdown() {
  std::string table = "| layout | also accepted | output | recognised by | preprocessing |\n|---|---|---|---|---|\n";
  for (const auto& spec : kLayouts) {
    std::string aliases;
    for (const auto alias : spec.aliases) aliases += (aliases.empty() ? "`" : ", `") + std::string(alias) + "`";
    table += "| `" + std::string(spec.name) + "` | " + aliases + " | " + std::string(spec.output) + " | " +
             std::string(spec.recognised_by) + " | " + to_string(spec.preprocessing) + " |\n";
  }
  return table;
}

std::string layout_list() {
  std::string list;
  for (const auto& spec : kLayouts) list += (list.empty() ? "" : ", ") + std::string(spec.name);
  return list;
}

}  // namespace shmyolo::detect
