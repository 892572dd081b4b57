#include "backends/torchscript/torchscript_backend.h"

#include <ATen/Parallel.h>
#include <torch/script.h>
#include <torch/version.h>

#include <mutex>
#include <sstream>

#include "backends/neural/neural_backend.h"

namespace vigil {
namespace {

class TorchScriptEngine : public NeuralEngine {
 public:
  explicit TorchScriptEngine(torch::jit::Module module) : module_(std::move(module)) {}

  Status Forward(const std::vector<Tensor>& inputs, std::vector<float>* scores, std::vector<int64_t>* shape) override {
    // LibTorch's thread setting is applied per calling thread: OpenMP keeps
    // the thread count per thread, and BLAS (OpenBLAS's OpenMP build) reads
    // it at each call. Without this a request thread would run every matrix
    // product with one OpenMP thread per core, on top of the other instances.
    static thread_local const bool threads_applied = (at::init_num_threads(), true);
    (void)threads_applied;
    try {
      c10::InferenceMode inference;
      std::vector<torch::jit::IValue> args;
      args.reserve(inputs.size());
      for (const Tensor& t : inputs) {
        // A view of the request's memory: forward() does not write its inputs.
        auto values = t.values<float>();
        args.emplace_back(torch::from_blob(const_cast<float*>(values.data()), t.shape(), torch::kFloat32));
      }
      torch::jit::IValue result = module_.forward(std::move(args));
      if (result.isTuple()) result = result.toTupleRef().elements().at(0);
      if (!result.isTensor()) return Status::Internal("the TorchScript module's forward() returned no tensor");
      const at::Tensor out = result.toTensor().to(torch::kFloat32).contiguous();
      shape->assign(out.sizes().begin(), out.sizes().end());
      scores->assign(out.data_ptr<float>(), out.data_ptr<float>() + out.numel());
      return Status::Ok();
    } catch (const c10::Error& e) {
      // Most often inputs the network cannot take (a shape that does not
      // multiply); the first line of LibTorch's message says which.
      const std::string what = e.what_without_backtrace();
      return Status::InvalidArgument("the TorchScript model refused the inputs: " + what.substr(0, what.find('\n')));
    }
  }

 private:
  torch::jit::Module module_;
};

std::once_flag threads_once;

}  // namespace

Result<std::unique_ptr<Backend>> CreateTorchScriptBackend(const ModelConfig& config, const Artifact& artifact) {
  auto intra_op = IntraOpThreads(config);
  if (!intra_op.ok()) return intra_op.status();
  const int threads = *intra_op;
  std::call_once(threads_once, [threads] {
    at::set_num_threads(threads);
    at::set_num_interop_threads(1);
  });
  auto outputs = NeuralOutputsOf(config);
  if (!outputs.ok()) return outputs.status();
  auto preprocessor = VersionPreprocessor(config, artifact.path);
  if (!preprocessor.ok()) return preprocessor.status();
  std::vector<std::unique_ptr<NeuralEngine>> instances;
  size_t parameters = 0;
  for (int i = 0; i < config.engine.instances; ++i) {
    try {
      std::istringstream in(artifact.bytes);
      torch::jit::Module module = torch::jit::load(in, torch::kCPU);
      module.eval();
      if (i == 0) {
        for (const at::Tensor& p : module.parameters()) parameters += static_cast<size_t>(p.numel());
      }
      instances.push_back(std::make_unique<TorchScriptEngine>(std::move(module)));
    } catch (const c10::Error& e) {
      const std::string what = e.what_without_backtrace();
      return Status::InvalidArgument(artifact.path.filename().string() + ": not a TorchScript archive LibTorch can load: " +
                                     what.substr(0, what.find('\n')));
    }
  }
  return std::unique_ptr<Backend>(std::make_unique<NeuralBackend>(
      config, std::move(*preprocessor), std::move(instances), *outputs,
      "torchscript (libtorch " + std::string(TORCH_VERSION) + "), " + std::to_string(parameters) + " parameters"));
}

}  // namespace vigil
