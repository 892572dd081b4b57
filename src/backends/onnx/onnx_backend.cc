#include "backends/onnx/onnx_backend.h"

#include <onnx/onnx_pb.h>

#include <mutex>
#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <regex>
#include <set>

#include "backends/neural/neural_backend.h"

namespace vigil {
namespace {

std::string Shape(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + (shape[i] < 0 ? std::string("?") : std::to_string(shape[i]));
  return s + "]";
}

// A graph input or output as the ONNX file declares it.
struct GraphTensor {
  std::string name;
  int32_t elem_type = 0;       // onnx::TensorProto::DataType.
  std::vector<int64_t> shape;  // -1 for a symbolic or unknown dimension.
};

GraphTensor FromValueInfo(const onnx::ValueInfoProto& v) {
  GraphTensor t;
  t.name = v.name();
  if (v.type().has_tensor_type()) {
    t.elem_type = v.type().tensor_type().elem_type();
    for (const auto& d : v.type().tensor_type().shape().dim()) t.shape.push_back(d.has_dim_value() ? d.dim_value() : -1);
  }
  return t;
}

// Whether a graph dimension `g` (-1: any) can take what model.yaml
// declares, `c` (-1: any).
bool DimensionFits(int64_t g, int64_t c) { return g < 0 || g == c; }

class OnnxEngine : public NeuralEngine {
 public:
  OnnxEngine(cv::dnn::Net net, std::vector<std::string> input_names, std::string output_name)
      : net_(std::move(net)), input_names_(std::move(input_names)), output_name_(std::move(output_name)) {}

  Status Forward(const std::vector<Tensor>& inputs, std::vector<float>* scores, std::vector<int64_t>* shape) override {
    try {
      for (size_t i = 0; i < inputs.size(); ++i) {
        const Tensor& t = inputs[i];
        std::vector<int> dims(t.shape().begin(), t.shape().end());
        auto values = t.values<float>();
        // A header over the request's memory; setInput copies it.
        const cv::Mat blob(static_cast<int>(dims.size()), dims.data(), CV_32F, const_cast<float*>(values.data()));
        net_.setInput(blob, input_names_[i]);
      }
      const cv::Mat out = net_.forward(output_name_);
      shape->assign(out.size.p, out.size.p + out.dims);
      const cv::Mat flat = out.isContinuous() ? out : out.clone();
      scores->assign(flat.ptr<float>(), flat.ptr<float>() + flat.total());
      return Status::Ok();
    } catch (const cv::Exception& e) {
      return Status::InvalidArgument("the ONNX model refused the inputs: " + e.msg);
    }
  }

 private:
  cv::dnn::Net net_;
  std::vector<std::string> input_names_;
  std::string output_name_;
};

std::once_flag threads_once;

}  // namespace

Result<std::unique_ptr<Backend>> CreateOnnxBackend(const ModelConfig& config, const Artifact& artifact) {
  const std::string file = artifact.path.filename().string();
  auto intra_op = IntraOpThreads(config);
  if (!intra_op.ok()) return intra_op.status();
  const int threads = *intra_op;
  std::call_once(threads_once, [threads] { cv::setNumThreads(threads); });
  auto outputs = NeuralOutputsOf(config);
  if (!outputs.ok()) return outputs.status();
  auto preprocessor = VersionPreprocessor(config, artifact.path);
  if (!preprocessor.ok()) return preprocessor.status();

  // The graph's own description of its inputs and outputs.
  onnx::ModelProto model;
  if (!model.ParseFromString(artifact.bytes)) return Status::InvalidArgument(file + ": not an ONNX model");
  std::set<std::string> initialised;
  for (const auto& init : model.graph().initializer()) initialised.insert(init.name());
  std::vector<GraphTensor> graph_inputs;
  for (const auto& v : model.graph().input()) {
    if (!initialised.count(v.name())) graph_inputs.push_back(FromValueInfo(v));
  }
  if (model.graph().output_size() == 0) return Status::InvalidArgument(file + ": the graph has no output");
  const GraphTensor graph_output = FromValueInfo(model.graph().output(0));
  for (const GraphTensor& in : graph_inputs) {
    if (in.elem_type != onnx::TensorProto::FLOAT) {
      return Status::InvalidArgument(file + ": graph input '" + in.name + "' is not float (Vigil feeds FP32)");
    }
  }
  std::vector<std::string> input_names;
  std::vector<TensorSpec> artifact_inputs;  // When model.yaml declares none: the graph's.
  if (preprocessor->has_value()) {
    const int64_t width = (*preprocessor)->width();
    if (graph_inputs.size() != 1 || graph_inputs[0].shape.size() != 2 || !DimensionFits(graph_inputs[0].shape[1], width)) {
      std::string got;
      for (const GraphTensor& in : graph_inputs) got += (got.empty() ? "" : ", ") + in.name + " " + Shape(in.shape);
      return Status::InvalidArgument(file + ": a tabular model's graph takes one matrix [batch, " + std::to_string(width) +
                                     "] (the prepared features); this one takes " + got);
    }
    input_names.push_back(graph_inputs[0].name);
  } else if (config.inputs.empty()) {
    if (graph_inputs.empty()) return Status::InvalidArgument(file + ": the graph has no input to feed");
    for (const GraphTensor& in : graph_inputs) {
      if (in.shape.empty()) {
        return Status::InvalidArgument(file + ": graph input '" + in.name +
                                       "' has no batch dimension (or no declared shape); declare the model's "
                                       "inputs in model.yaml");
      }
      artifact_inputs.push_back({in.name, DataType::kFp32, in.shape});
      input_names.push_back(in.name);
    }
  } else {
    if (graph_inputs.size() != config.inputs.size()) {
      return Status::InvalidArgument(file + ": the graph takes " + std::to_string(graph_inputs.size()) +
                                     " inputs, model.yaml declares " + std::to_string(config.inputs.size()));
    }
    for (size_t i = 0; i < config.inputs.size(); ++i) {
      const TensorSpec& spec = config.inputs[i];
      const GraphTensor* found = nullptr;
      for (const GraphTensor& g : graph_inputs) {
        if (g.name == spec.name) found = &g;
      }
      if (!found) return Status::InvalidArgument("inputs[" + std::to_string(i) + "].name: the graph has no input '" + spec.name + "'");
      bool fits = found->shape.size() == spec.shape.size();
      for (size_t d = 0; fits && d < spec.shape.size(); ++d) fits = DimensionFits(found->shape[d], spec.shape[d]);
      if (!fits) {
        return Status::InvalidArgument("inputs[" + std::to_string(i) + "].shape: model.yaml declares " + Shape(spec.shape) +
                                       ", the graph " + Shape(found->shape));
      }
      input_names.push_back(spec.name);
    }
  }
  if (config.engine.batching.enabled()) {
    // Stacked requests change the first dimension; a graph that fixes it
    // would refuse every batch.
    for (const GraphTensor& in : graph_inputs) {
      if (!in.shape.empty() && in.shape[0] > 0) {
        return Status::InvalidArgument(file + ": graph input '" + in.name + "' has a fixed batch dimension (" +
                                       std::to_string(in.shape[0]) +
                                       "), which batching cannot fill; export it with a dynamic one "
                                       "(torch.onnx.export's dynamic_axes) or turn batching off");
      }
    }
  }
  const int64_t g = outputs->groups;
  const std::vector<int64_t>& os = graph_output.shape;
  if (!os.empty() && !(g == 1 ? os.size() == 1 || (os.size() == 2 && DimensionFits(os[1], 1))
                              : os.size() == 2 && DimensionFits(os[1], g))) {
    return Status::InvalidArgument(file + ": the graph's output '" + graph_output.name + "' is " + Shape(os) +
                                   "; the model's outputs need " + (g == 1 ? "[batch] or [batch, 1]" : "[batch, " + std::to_string(g) + "]"));
  }

  std::vector<std::unique_ptr<NeuralEngine>> instances;
  for (int i = 0; i < config.engine.instances; ++i) {
    try {
      cv::dnn::Net net = cv::dnn::readNetFromONNX(artifact.bytes.data(), artifact.bytes.size());
      net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
      net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
      instances.push_back(std::make_unique<OnnxEngine>(std::move(net), input_names, graph_output.name));
    } catch (const cv::Exception& e) {
      // OpenCV names an operator it lacks as: Can't create layer "n" of type "Op".
      std::smatch m;
      const std::string msg = e.msg;
      static const std::regex unsupported(R"(of type \"([^\"]+)\")");
      if (std::regex_search(msg, m, unsupported)) {
        return Status::InvalidArgument(file + ": the ONNX operator '" + m[1].str() +
                                       "' is not supported by OpenCV's DNN engine");
      }
      return Status::InvalidArgument(file + ": OpenCV's DNN engine cannot load it: " + msg);
    }
  }
  std::string opset;
  for (const auto& o : model.opset_import()) {
    if (o.domain().empty() || o.domain() == "ai.onnx") opset = std::to_string(o.version());
  }
  return std::unique_ptr<Backend>(std::make_unique<NeuralBackend>(
      config, std::move(*preprocessor), std::move(instances), *outputs,
      "onnx (opencv dnn " + std::string(CV_VERSION) + "), opset " + opset + ", " +
          std::to_string(model.graph().node_size()) + " nodes",
      std::move(artifact_inputs)));
}

}  // namespace vigil
