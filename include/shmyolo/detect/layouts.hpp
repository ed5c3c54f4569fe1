// The registry of YOLO output layouts: every fact about a layout in one entry
// (its names, what its output holds, its preprocessing, where its class count
// sits in the output shape, its grid strides, its decoder). The model parser,
// the CLI's --layout choices, the config check and docs/models.md all read it,
// so a new layout is one entry here plus one decoder.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <shmyolo/detect/decode.hpp>
#include <shmyolo/detect/model.hpp>

namespace shmyolo::detect {

using DecodeFn = DetectResult<void> (*)(const ModelInfo& model, std::span<const OutputTensor> outputs, int batch_index,
                                        const DecodeParams& params, std::vector<Candidate>& out);

struct LayoutSpec {
  OutputLayout layout{};
  std::string_view name;                        // what --layout and model.layout take and print
  std::span<const std::string_view> aliases{};  // other names accepted for it
  std::string_view output;                      // the output tensor's contents (Markdown, for the docs table)
  std::string_view recognised_by;               // what model_probe's guess looks for (Markdown)
  Preprocessing preprocessing;                  // what its models expect
  std::span<const int> strides{};               // grid strides its decoder walks; empty: none
  // Class count from the first output's shape (0 when the shape leaves none).
  int (*num_classes)(const ModelInfo& model);
  DecodeFn decode;
};

[[nodiscard]] std::span<const LayoutSpec> layouts();
[[nodiscard]] const LayoutSpec& spec_of(OutputLayout layout);

// Every accepted name, aliases included, in registry order (for CLI choices).
[[nodiscard]] std::vector<std::string> layout_names_and_aliases();
// "yolov5, yolov8, ..." (the primary names), for messages.
[[nodiscard]] std::string layout_list();

// The registry as the Markdown table in docs/models.md (`shmyolo models layouts`).
[[nodiscard]] std::string layout_table_markdown();

}  // namespace shmyolo::detect
