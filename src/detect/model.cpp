#include <shmyolo/detect/model.hpp>

#include <algorithm>
#include <charconv>
#include <sstream>

#include <shmyolo/detect/types.hpp>
#include <shmyolo/nearest_word.hpp>

namespace shmyolo::detect {

std::string_view to_string(DetectErrc code) {
  switch (code) {
    case DetectErrc::model_not_found: return "model not found";
    case DetectErrc::model_invalid: return "model not valid";
    case DetectErrc::layout_unknown: return "unknown model layout";
    case DetectErrc::engine_unavailable: return "engine cannot run the model";
    case DetectErrc::bad_input: return "bad input";
    case DetectErrc::inference_failed: return "inference failed";
  }
  return "unknown error";
}

std::string to_string(Engine engine) {
  return engine == Engine::onnxruntime ? "onnxruntime" : "opencv";
}

std::optional<int> class_id(const std::vector<std::string>& names, std::string_view text) {
  const auto it = std::ranges::find(names, text);
  if (it != names.end()) return static_cast<int>(it - names.begin());
  int id = -1;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc{} || end != text.data() + text.size() || id < 0) return std::nullopt;
  if (static_cast<std::size_t>(id) >= names.size()) return std::nullopt;
  return id;
}

DetectResult<std::vector<int>> class_ids(const std::vector<std::string>& names,
                                         const std::vector<std::string>& wanted) {
  std::vector<int> ids;
  for (const auto& w : wanted) {
    const auto id = class_id(names, w);
    if (!id)
      return detect_error(DetectErrc::bad_input, "the model has no class \"" + w + "\"" + did_you_mean(w, names));
    ids.push_back(*id);
  }
  return ids;
}

std::string to_string(const Preprocessing& p) {
  std::ostringstream text;
  text << (p.rgb ? "RGB, " : "BGR, ");
  if (p.scale == 1.0F) {
    text << "0..255";
  } else if (p.scale == 1.0F / 255.0F) {
    text << "/255";
  } else {
    text << "x" << p.scale;
  }
  if (!p.letterbox) {
    text << ", plain resize";
  } else {
    text << (p.centered ? ", centred letterbox" : ", letterbox at the top-left") << ", pad " << int{p.pad_value};
  }
  return text.str();
}

}  // namespace shmyolo::detect
