// TorchScript backend: PyTorch models saved with torch.jit.save, run through
// LibTorch (Debian's libtorch-dev) in inference mode, without gradients.
//
// LibTorch is heavy to compile against, so this header names none of it
// and torchscript_backend.cc is its only translation unit; a build without
// LibTorch leaves the backend out (model.yaml's `backend: torchscript` then
// loads with "not available in this build").
//
// The archive is read from memory (it may have been decrypted there) and
// loaded once per instance (`instances:` in model.yaml). Intra-op threads:
// `parameters: {intra_op_threads: N}` (default 1, as Vigil's own workers
// spread requests across cores); LibTorch's setting is per process, so the
// first torchscript model loaded sets it.
//
// Loading a TorchScript archive runs no Python and no code from the archive
// beyond the TorchScript program itself, which LibTorch interprets: it can
// only call the operators LibTorch registers (tensor maths), not the file
// system or the network. See docs/security.md.
#ifndef VIGIL_BACKENDS_TORCHSCRIPT_TORCHSCRIPT_BACKEND_H_
#define VIGIL_BACKENDS_TORCHSCRIPT_TORCHSCRIPT_BACKEND_H_

#include <memory>

#include "backends/backend.h"

namespace vigil {

// INVALID_ARGUMENT: not a TorchScript archive, or it does not fit config.
Result<std::unique_ptr<Backend>> CreateTorchScriptBackend(const ModelConfig& config, const Artifact& artifact);

}  // namespace vigil

#endif  // VIGIL_BACKENDS_TORCHSCRIPT_TORCHSCRIPT_BACKEND_H_
