// ONNX backend: ONNX models run through OpenCV's DNN module (Debian's
// libopencv-dnn-dev), with the graph's inputs and outputs read by the ONNX
// library itself (libonnx-dev) and checked against model.yaml.
//
// OpenCV is heavy to compile against, so this header names none of it and
// onnx_backend.cc is its only translation unit; a build without OpenCV or
// ONNX leaves the backend out ("not available in this build").
//
// At load: the graph's inputs (those not fed by an initializer) must match
// model.yaml's, by name for a model with declared inputs, or be one FLOAT
// [batch, D] matrix for a tabular one (D: the prepared width); a fixed
// dimension must agree, a symbolic one (a dynamic batch) takes any size. An
// operator OpenCV cannot run is refused with its name. An ONNX file is a
// protocol-buffer description of a graph and its weights: loading it runs
// nothing from the file.
//
// OpenCV's Net is not safe for concurrent calls: each of the `instances`
// has its own, loaded from the same bytes. Threads per call: `parameters:
// {intra_op_threads: N}` (default 1; OpenCV's setting is per process).
#ifndef VIGIL_BACKENDS_ONNX_ONNX_BACKEND_H_
#define VIGIL_BACKENDS_ONNX_ONNX_BACKEND_H_

#include <memory>

#include "backends/backend.h"

namespace vigil {

// INVALID_ARGUMENT: not an ONNX model, an unsupported operator, or inputs
// and outputs that do not fit config.
Result<std::unique_ptr<Backend>> CreateOnnxBackend(const ModelConfig& config, const Artifact& artifact);

}  // namespace vigil

#endif  // VIGIL_BACKENDS_ONNX_ONNX_BACKEND_H_
