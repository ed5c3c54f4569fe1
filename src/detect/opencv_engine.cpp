// OpenCV DNN engine: Darknet cfg/weights models, and ONNX models OpenCV 4.6 can run.
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/dnn.hpp>

#include <fstream>

#include "engines.hpp"
#include "model_probe.hpp"

namespace shmyolo::detect::detail {
namespace {

bool has_suffix(const std::filesystem::path& p, const char* suffix) {
  return p.extension() == suffix;
}

class OpenCvEngine final : public InferenceEngine {
 public:
  static DetectResult<std::unique_ptr<InferenceEngine>> open(const ModelOptions& o) {
    // Silent: every failure reaches the user as one line of ours, not OpenCV's log.
    cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
    auto engine = std::unique_ptr<OpenCvEngine>(new OpenCvEngine());
    ModelInfo& info = engine->info_;
    info.path = o.path;
    info.engine = Engine::opencv;
    const bool darknet = has_suffix(o.path, ".cfg") || has_suffix(o.path, ".weights");
    try {
      if (darknet) {
        auto cfg = o.path;
        cfg.replace_extension(".cfg");
        auto weights = o.path;
        weights.replace_extension(".weights");
        if (std::error_code ec; !std::filesystem::exists(cfg, ec) || !std::filesystem::exists(weights, ec)) {
          return detect_error(DetectErrc::model_not_found, "Darknet model " + o.path.string() + " needs both " +
                                                               cfg.filename().string() + " and " +
                                                               weights.filename().string() + " side by side");
        }
        engine->net_ = cv::dnn::readNetFromDarknet(cfg.string(), weights.string());
        info.layout = OutputLayout::darknet;
        if (auto ok = engine->read_darknet_size(cfg); !ok) return std::unexpected(ok.error());
      } else {
        // OpenCV exposes neither the input shape nor the metadata: read both
        // with ONNX Runtime, which loads every model OpenCV can.
        auto signature = open_ort_engine(o);
        if (!signature) return std::unexpected(signature.error());
        const ModelInfo& seen = (*signature)->info();
        info.input_name = seen.input_name;
        info.input_width = seen.input_width;
        info.input_height = seen.input_height;
        info.names = seen.names;
        info.task = seen.task;
        info.description = seen.description;
        engine->net_ = cv::dnn::readNetFromONNX(o.path.string());
      }
    } catch (const cv::Exception& e) {
      return detect_error(
          DetectErrc::engine_unavailable,
          "OpenCV " CV_VERSION " cannot load model " + o.path.string() + ": " + one_line(e.err) +
              (darknet ? "" : "; use --engine ort (ONNX Runtime loads every ONNX model OpenCV cannot)"));
    }
    if (engine->net_.empty()) {
      return detect_error(DetectErrc::model_invalid, "OpenCV loaded nothing from " + o.path.string());
    }
    engine->net_.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    engine->net_.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    cv::setNumThreads(o.threads);
    engine->guard_attention();
    engine->out_names_ = engine->net_.getUnconnectedOutLayersNames();
    info.output_names = engine->out_names_;
    if (auto in = engine->input(1); !in) return std::unexpected(in.error());
    engine->blob_.setTo(0.5F);
    auto outs = engine->run();
    if (!outs) return std::unexpected(outs.error());
    for (const auto& t : *outs) info.output_shapes.push_back(t.shape);
    if (auto ok = infer_layout(info, o); !ok) return std::unexpected(ok.error());
    if (auto ok = resolve_names(info, o); !ok) return std::unexpected(ok.error());
    return std::unique_ptr<InferenceEngine>(std::move(engine));
  }

  [[nodiscard]] const ModelInfo& info() const override { return info_; }

  DetectResult<float*> input(int batch) override {
    if (batch != 1) {
      return detect_error(DetectErrc::bad_input,
                          "the OpenCV engine runs one image at a time; use --engine ort for batches");
    }
    const int shape[4] = {1, 3, info_.input_height, info_.input_width};
    blob_.create(4, shape, CV_32F);
    return blob_.ptr<float>();
  }

  DetectResult<std::vector<OutputTensor>> run() override {
    try {
      net_.setInput(blob_);
      outputs_.clear();
      net_.forward(outputs_, out_names_);
    } catch (const cv::Exception& e) {
      return detect_error(DetectErrc::inference_failed, "OpenCV failed to run model " + info_.path.string() + ": " +
                                                            one_line(e.err) + "; try --engine ort");
    }
    std::vector<OutputTensor> out;
    for (auto& m : outputs_) {
      if (!m.isContinuous()) m = m.clone();
      OutputTensor t{m.ptr<float>(), {}};
      for (int d = 0; d < m.dims; ++d) t.shape.push_back(m.size[d]);
      out.push_back(std::move(t));
    }
    return out;
  }

 private:
  OpenCvEngine() = default;

  // OpenCV 4.6 silently drops a scalar Mul that follows a MatMul of two
  // computed tensors when it fuses layers (YOLO11's attention block): scores
  // come out wrong with no error. Such MatMuls import as InnerProduct layers
  // without weights; when one is present, run unfused (correct, a bit slower).
  void guard_attention() {
    for (const auto& name : net_.getLayerNames()) {
      auto layer = net_.getLayer(net_.getLayerId(name));
      if (layer->type == "InnerProduct" && layer->blobs.empty()) {
        net_.enableFusion(false);
        info_.notes.emplace_back(
            "OpenCV layer fusion off: the model multiplies two computed tensors (attention), which OpenCV " CV_VERSION
            " mis-computes when fused");
        return;
      }
    }
  }

  DetectResult<void> read_darknet_size(const std::filesystem::path& cfg) {
    std::ifstream in(cfg);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("width=", 0) == 0) info_.input_width = std::atoi(line.c_str() + 6);
      if (line.rfind("height=", 0) == 0) info_.input_height = std::atoi(line.c_str() + 7);
      if (info_.input_width > 0 && info_.input_height > 0) return {};
    }
    return detect_error(DetectErrc::model_invalid, "Darknet cfg " + cfg.string() + " has no width/height in [net]");
  }

  cv::dnn::Net net_;
  ModelInfo info_;
  cv::Mat blob_;
  std::vector<cv::Mat> outputs_;
  std::vector<std::string> out_names_;
};

}  // namespace

DetectResult<std::unique_ptr<InferenceEngine>> open_opencv_engine(const ModelOptions& options) {
  return OpenCvEngine::open(options);
}

}  // namespace shmyolo::detect::detail
