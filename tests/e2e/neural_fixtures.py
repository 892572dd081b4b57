#!/usr/bin/python3
"""Fixtures and reference outputs for tests/e2e/neural_e2e_test.cc (PyTorch).

  neural_fixtures.py reference MODEL_DIR CSV ROW...
      PyTorch's own answer for rows ROW... (0-based data rows) of CSV: the
      rows prepared with examples/credit_nn/train.py's `transform` and the
      steps in MODEL_DIR/preprocessing.yaml, run through MODEL_DIR/model.pt.
      Prints {"margin": [...], "probability": [...]}.
  neural_fixtures.py unsupported OUT.onnx WIDTH
      An ONNX graph taking [batch, WIDTH] that uses the operator Unique,
      which OpenCV's DNN engine cannot run.
  neural_fixtures.py plain OUT.onnx
      An ONNX graph with no tabular features: input 'pixels' [batch, 2, 3],
      one value per row. Prints {"pixels": [...], "value": [...]}: two rows
      and PyTorch's answer for them.
  neural_fixtures.py fixed OUT.onnx WIDTH
      An ONNX graph taking [1, WIDTH]: its batch dimension fixed at 1.
  neural_fixtures.py slow OUT.pt WIDTH
      A TorchScript model taking [batch, WIDTH] whose every call takes a few
      hundred milliseconds (a chain of matrix products), for the instance
      pool's bound.
"""
import csv
import json
import os
import sys

import torch
import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "credit_nn"))
import train  # noqa: E402  (the example's own preprocessing, written independently of Vigil's C++)


def reference(model_dir, csv_path, rows):
    with open(os.path.join(model_dir, "preprocessing.yaml")) as f:
        steps = yaml.safe_load(f)["preprocessing"]
    with open(csv_path, newline="") as f:
        data = list(csv.DictReader(f))
    net = torch.jit.load(os.path.join(model_dir, "model.pt"))
    torch.set_num_threads(1)
    x = torch.tensor([train.transform(steps, data[r]) for r in rows], dtype=torch.float32)
    with torch.inference_mode():
        margin = net(x)
    print(json.dumps({"margin": margin.tolist(), "probability": torch.sigmoid(margin).tolist()}))


class UsesUnique(torch.nn.Module):
    def forward(self, x):
        return x.sum(1) + torch.unique(x).sum()


class Plain(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.linear = torch.nn.Linear(6, 1)

    def forward(self, pixels):
        return torch.tanh(self.linear(pixels.flatten(1))).squeeze(1)


class Slow(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.eye(512) * 0.5 + 0.001)

    def forward(self, x):
        m = self.w
        for _ in range(60):
            m = torch.tanh(m @ self.w)
        return x.sum(1) * 0.01 + m.sum() * 0.0


def main():
    command = sys.argv[1]
    if command == "reference":
        reference(sys.argv[2], sys.argv[3], [int(r) for r in sys.argv[4:]])
    elif command == "unsupported":
        width = int(sys.argv[3])
        torch.onnx.export(UsesUnique(), torch.zeros(2, width), sys.argv[2], input_names=["input"],
                          output_names=["margin"], dynamic_axes={"input": {0: "batch"}, "margin": {0: "batch"}},
                          opset_version=11)
    elif command == "plain":
        net = Plain().eval()
        pixels = torch.arange(12, dtype=torch.float32).reshape(2, 2, 3) / 10
        torch.onnx.export(net, pixels, sys.argv[2], input_names=["pixels"], output_names=["value"],
                          dynamic_axes={"pixels": {0: "batch"}, "value": {0: "batch"}}, opset_version=11)
        with torch.inference_mode():
            value = net(pixels)
        print(json.dumps({"pixels": pixels.flatten().tolist(), "value": value.tolist()}))
    elif command == "fixed":
        # The example's network shape with batch dimension fixed at 1 (no dynamic_axes).
        torch.onnx.export(train.Net(int(sys.argv[3]), [8]), torch.zeros(1, int(sys.argv[3])), sys.argv[2],
                          input_names=["input"], output_names=["margin"], opset_version=11)
    elif command == "slow":
        torch.jit.script(Slow()).save(sys.argv[2])
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
