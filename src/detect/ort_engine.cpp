// ONNX Runtime engine (C++ API over the ABI-stable C API, version 21).
#include "engines.hpp"

#include <cstdlib>

#include <onnxruntime_cxx_api.h>

#include "model_probe.hpp"

namespace shmyolo::detect::detail {
namespace {

Ort::Env make_env() {
  // The prebuilt Linux library (1.30) ships a telemetry client that, unless
  // ORT_DISABLE_TELEMETRY is set before the first session: leaves an empty
  // /tmp/mat-debug-<pid>.log behind per process, tries HTTPS uploads, and
  // parses /proc/self/cmdline with a recursive regex that overflows the
  // stack on a long command line (e.g. `shmyolo detect` with 600 images).
  // A user who sets the variable explicitly keeps their value.
  setenv("ORT_DISABLE_TELEMETRY", "1", 0);
  // Fatal only: every error the engine logs also comes back as an exception,
  // which the detector turns into its one-line message; the log's copy (in
  // colour, several lines) would say it twice.
  Ort::Env env(ORT_LOGGING_LEVEL_FATAL, "shmyolo");
  env.DisableTelemetryEvents();
  return env;
}

Ort::Env& ort_env() {
  // One environment per process, as ONNX Runtime requires; quiet, so a
  // model's harmless optimiser warnings do not reach the user's terminal.
  static Ort::Env env = make_env();
  return env;
}

std::string lookup(Ort::ModelMetadata& meta, const char* key) {
  Ort::AllocatorWithDefaultOptions allocator;
  auto value = meta.LookupCustomMetadataMapAllocated(key, allocator);
  return value ? std::string(value.get()) : std::string();
}

class OrtEngine final : public InferenceEngine {
 public:
  static DetectResult<std::unique_ptr<InferenceEngine>> open(const ModelOptions& o) {
    auto engine = std::unique_ptr<OrtEngine>(new OrtEngine());
    try {
      Ort::SessionOptions so;
      so.SetIntraOpNumThreads(o.threads);
      so.SetInterOpNumThreads(1);
      so.SetExecutionMode(ORT_SEQUENTIAL);
      so.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
      // Spinning threads steal the cores that ingest and other workers share
      // (docs/benchmarks.md); off unless asked for.
      so.AddConfigEntry("session.intra_op.allow_spinning", o.allow_spinning ? "1" : "0");
      engine->session_ = std::make_unique<Ort::Session>(ort_env(), o.path.c_str(), so);
    } catch (const Ort::Exception& e) {
      return detect_error(DetectErrc::model_invalid, "cannot load model " + o.path.string() + " with ONNX Runtime: " +
                                                         one_line(e.what()) + "; is it a complete ONNX file?");
    }
    if (auto ok = engine->describe(o); !ok) return std::unexpected(ok.error());
    return std::unique_ptr<InferenceEngine>(std::move(engine));
  }

  [[nodiscard]] const ModelInfo& info() const override { return info_; }

  DetectResult<float*> input(int batch) override {
    if (batch < 1 || (batch > 1 && !info_.dynamic_batch)) {
      return detect_error(DetectErrc::bad_input, "model " + info_.path.string() + " takes a batch of 1, not " +
                                                     std::to_string(batch) + " (its batch dimension is fixed)");
    }
    batch_ = batch;
    input_.resize(static_cast<std::size_t>(batch) * 3 * info_.input_width * info_.input_height);
    return input_.data();
  }

  DetectResult<std::vector<OutputTensor>> run() override {
    try {
      const std::array<std::int64_t, 4> shape{batch_, 3, info_.input_height, info_.input_width};
      const auto memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
      // Zero copy: the tensor wraps the buffer the letterbox wrote into.
      Ort::Value tensor =
          Ort::Value::CreateTensor<float>(memory, input_.data(), input_.size(), shape.data(), shape.size());
      const char* in_name = info_.input_name.c_str();
      outputs_ = session_->Run(Ort::RunOptions{nullptr}, &in_name, &tensor, 1, output_name_ptrs_.data(),
                               output_name_ptrs_.size());
      std::vector<OutputTensor> out;
      out.reserve(outputs_.size());
      for (auto& v : outputs_) {
        auto ti = v.GetTensorTypeAndShapeInfo();
        if (ti.GetElementType() != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) {
          return detect_error(
              DetectErrc::layout_unknown,
              "model " + info_.path.string() + " has a non-float output; only float outputs are decoded");
        }
        out.push_back({v.GetTensorData<float>(), ti.GetShape()});
      }
      return out;
    } catch (const Ort::Exception& e) {
      return detect_error(DetectErrc::inference_failed,
                          "inference failed on model " + info_.path.string() + ": " + one_line(e.what()));
    }
  }

 private:
  OrtEngine() = default;

  DetectResult<void> describe(const ModelOptions& o) {
    info_.path = o.path;
    info_.engine = Engine::onnxruntime;
    try {
      Ort::AllocatorWithDefaultOptions allocator;
      if (session_->GetInputCount() != 1) {
        return detect_error(DetectErrc::layout_unknown, "model " + o.path.string() + " has " +
                                                            std::to_string(session_->GetInputCount()) +
                                                            " inputs; a YOLO detector takes one image tensor");
      }
      info_.input_name = session_->GetInputNameAllocated(0, allocator).get();
      // The shape info views into the type info: keep that alive while reading.
      const Ort::TypeInfo type_info = session_->GetInputTypeInfo(0);
      const auto in = type_info.GetTensorTypeAndShapeInfo();
      const auto shape = in.GetShape();
      if (shape.size() != 4 || (shape[1] != 3 && shape[1] > 0) ||
          in.GetElementType() != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) {
        return detect_error(DetectErrc::layout_unknown, "model " + o.path.string() + " input '" + info_.input_name +
                                                            "' is not a float [batch, 3, height, width] image tensor");
      }
      for (std::size_t i = 0; i < session_->GetOutputCount(); ++i) {
        info_.output_names.emplace_back(session_->GetOutputNameAllocated(i, allocator).get());
      }
      for (const auto& n : info_.output_names) output_name_ptrs_.push_back(n.c_str());
      auto meta = session_->GetModelMetadata();
      info_.names = parse_names_metadata(lookup(meta, "names"));
      info_.task = lookup(meta, "task");
      info_.description = lookup(meta, "description");
      const auto imgsz = parse_int_list(lookup(meta, "imgsz"));
      info_.dynamic_batch = shape[0] <= 0;
      info_.input_height = static_cast<int>(shape[2]);
      info_.input_width = static_cast<int>(shape[3]);
      if (info_.input_height <= 0 || info_.input_width <= 0) {
        const int fallback = o.input_size.value_or(imgsz.empty() ? 640 : imgsz[0]);
        info_.input_height = o.input_size.value_or(imgsz.size() == 2 ? imgsz[0] : fallback);
        info_.input_width = o.input_size.value_or(imgsz.size() == 2 ? imgsz[1] : fallback);
        info_.notes.push_back("input size not fixed in the model: using " + std::to_string(info_.input_width) + "x" +
                              std::to_string(info_.input_height));
      }
      if (!info_.task.empty() && info_.task != "detect") {
        return detect_error(DetectErrc::layout_unknown, "model " + o.path.string() + " is a '" + info_.task +
                                                            "' model; shmyolo runs detection models");
      }
    } catch (const Ort::Exception& e) {
      return detect_error(DetectErrc::model_invalid,
                          "cannot read model " + o.path.string() + ": " + one_line(e.what()));
    }
    // Output shapes may be symbolic: one run on a blank image gives the real ones.
    if (auto in = input(1); !in) return std::unexpected(in.error());
    std::fill(input_.begin(), input_.end(), 0.5F);
    auto outs = run();
    if (!outs) return std::unexpected(outs.error());
    for (const auto& t : *outs) info_.output_shapes.push_back(t.shape);
    if (auto ok = infer_layout(info_, o); !ok) return ok;
    return resolve_names(info_, o);
  }

  std::unique_ptr<Ort::Session> session_;
  ModelInfo info_;
  std::vector<const char*> output_name_ptrs_;
  std::vector<float> input_;
  std::vector<Ort::Value> outputs_;
  std::int64_t batch_ = 1;
};

}  // namespace

DetectResult<std::unique_ptr<InferenceEngine>> open_ort_engine(const ModelOptions& options) {
  return OrtEngine::open(options);
}

}  // namespace shmyolo::detect::detail
