#include "model_probe.hpp"

#include <cctype>
#include <filesystem>
#include <fstream>

#include <shmyolo/detect/decode.hpp>
#include <shmyolo/detect/detector.hpp>
#include <shmyolo/detect/layouts.hpp>

namespace shmyolo::detect::detail {

std::vector<std::string> parse_names_metadata(const std::string& text) {
  std::vector<std::string> names;
  std::size_t i = 0;
  while (i < text.size()) {
    // index
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) == 0) ++i;
    std::size_t j = i;
    while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j])) != 0) ++j;
    if (j == i) break;
    const std::size_t index = std::stoul(text.substr(i, j - i));
    // quoted name
    const std::size_t q = text.find_first_of("'\"", j);
    if (q == std::string::npos) break;
    const std::size_t end = text.find(text[q], q + 1);
    if (end == std::string::npos || index > 100000) break;
    if (names.size() <= index) names.resize(index + 1);
    names[index] = text.substr(q + 1, end - q - 1);
    i = end + 1;
  }
  return names;
}

std::vector<int> parse_int_list(const std::string& text) {
  std::vector<int> out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (std::isdigit(static_cast<unsigned char>(text[i])) == 0) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j])) != 0) ++j;
    if (j - i < 7) out.push_back(std::stoi(text.substr(i, j - i)));
    i = j;
  }
  return out;
}

namespace {

// Anchor-free grid cells over strides 8, 16 and 32 at this input size.
std::int64_t grid_cells(const ModelInfo& m, std::initializer_list<int> strides) {
  std::int64_t n = 0;
  for (const int s : strides) n += static_cast<std::int64_t>(m.input_width / s) * (m.input_height / s);
  return n;
}

DetectResult<OutputLayout> guess_layout(ModelInfo& m) {
  const auto unknown = [&](const std::string& why) {
    std::string shapes;
    for (const auto& s : m.output_shapes) shapes += (shapes.empty() ? "" : ", ") + shape_text(s);
    return detect_error(DetectErrc::layout_unknown, "model " + m.path.string() + ": output " + shapes +
                                                        " is not a known YOLO detection layout (" + why +
                                                        "); pass --layout (" + layout_list() + ") if it is one");
  };
  if (m.output_shapes.empty()) return unknown("no outputs");
  const auto& s = m.output_shapes[0];
  if (s.size() == 2 && m.output_shapes.size() == 1) {
    if (s[0] == grid_cells(m, {16, 32}) && s[1] > 15) return OutputLayout::fastestv2;
    return unknown("a 2-D output that is not Yolo-FastestV2's");
  }
  if (s.size() != 3) return unknown("rank " + std::to_string(s.size()) + ", expected 3");
  const std::int64_t a = s[1];
  const std::int64_t c = s[2];
  if (c == 6 && a <= 1000) return OutputLayout::end_to_end;
  if (a < c) {
    if (a <= 4) return unknown("too few features per anchor");
    return OutputLayout::yolov8;
  }
  if (c <= 5) return unknown("too few features per anchor");
  const std::int64_t cells = grid_cells(m, {8, 16, 32});
  if (a == cells) return OutputLayout::yolox;
  if (a == 3 * cells) return OutputLayout::yolov5;
  m.notes.emplace_back("rows do not match 3 anchors per cell at strides 8/16/32; decoding as yolov5");
  return OutputLayout::yolov5;
}

}  // namespace

DetectResult<void> infer_layout(ModelInfo& m, const ModelOptions& options) {
  if (m.layout != OutputLayout::darknet) {
    if (options.layout) {
      m.layout = *options.layout;
      m.notes.push_back("layout " + to_string(m.layout) + " set by option");
    } else {
      auto guessed = guess_layout(m);
      if (!guessed) return std::unexpected(guessed.error());
      m.layout = *guessed;
    }
  }
  const LayoutSpec& spec = spec_of(m.layout);
  m.num_classes = spec.num_classes(m);
  if (m.num_classes <= 0) {
    return detect_error(DetectErrc::layout_unknown, "model " + m.path.string() + ": output " +
                                                        shape_text(m.output_shapes.at(0)) +
                                                        " leaves no class scores for layout " + to_string(m.layout));
  }
  m.strides.assign(spec.strides.begin(), spec.strides.end());
  m.preprocessing = preprocessing_for(m.layout);
  return {};
}

DetectResult<void> resolve_names(ModelInfo& m, const ModelOptions& options) {
  if (!options.names_file.empty()) {
    const std::string file = options.names_file.string();
    std::error_code ec;
    if (!std::filesystem::exists(options.names_file, ec)) {
      return detect_error(DetectErrc::bad_input, "cannot read class names file " + file + ": check the path");
    }
    if (!std::filesystem::is_regular_file(options.names_file, ec)) {
      return detect_error(DetectErrc::bad_input,
                          "class names file " + file + " is not a regular file: give a file with one name per line");
    }
    // 1 MiB: far above any real list (COCO's 80 names are 625 bytes; even
    // ImageNet-21k's 21,841 names fit well under it), and it keeps a mistake
    // such as a model file from filling memory.
    constexpr std::uintmax_t kMaxNamesBytes = 1U << 20;
    if (std::filesystem::file_size(options.names_file, ec) > kMaxNamesBytes) {
      return detect_error(DetectErrc::bad_input,
                          "class names file " + file + " is over 1 MiB: give a file with one class name per line");
    }
    std::ifstream in(options.names_file);
    if (!in) return detect_error(DetectErrc::bad_input, "cannot read class names file " + file + ": check the path");
    m.names.clear();
    for (std::string line; std::getline(in, line);) {
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
      if (!line.empty()) m.names.push_back(line);
    }
    m.notes.push_back("class names from " + options.names_file.string());
  } else if (!m.names.empty()) {
    m.notes.emplace_back("class names from the model's metadata");
  } else if (m.num_classes == 80) {
    m.names = coco_names();
    m.notes.emplace_back("no class names in the model: 80 classes, assuming COCO (override with --names)");
  }
  for (auto i = static_cast<int>(m.names.size()); i < m.num_classes; ++i)
    m.names.push_back("class" + std::to_string(i));
  return {};
}

}  // namespace shmyolo::detect::detail
