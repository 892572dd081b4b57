#!/usr/bin/python3
"""Trains the example neural credit model and exports it for Vigil.

A small multi-layer perceptron on the credit data set (examples/credit),
trained with Debian's python3-torch, exported twice into a model repository:

  REPO/credit-torch/1/model.pt    TorchScript (backend: torchscript)
  REPO/credit-onnx/1/model.onnx   ONNX (backend: onnx)

with `preprocessing.yaml` beside each artifact: the steps that turn the raw
features into the network's inputs, with the statistics of the training
rows (median fill, standardisation, one-hot categories). Vigil applies them
in C++ before the network; monitoring sees the raw features.

Usage: train.py --data credit_data.csv --repository REPO [--version 1]
                [--hidden 32,16] [--name credit] [--epochs 300]

--hidden sets the hidden layers' widths; --name NAME writes NAME-torch and
NAME-onnx (the benchmark, bench/neural, trains a wider network that way).
"""
import argparse
import csv
import json
import math
import os
import random

import torch

NUMERIC = ["Seniority", "Time", "Age", "Expenses", "Income", "Assets", "Debt", "Amount", "Price"]
CATEGORIES = {
    "Home": ["ignore", "other", "owner", "parents", "priv", "rent"],
    "Marital": ["divorced", "married", "separated", "single", "widow"],
    "Records": ["no", "yes"],
    "Job": ["fixed", "freelance", "others", "partime"],
}
# The column order of the data set (and of model.yaml's features).
FEATURES = ["Seniority", "Home", "Time", "Age", "Marital", "Records", "Job", "Expenses", "Income", "Assets",
            "Debt", "Amount", "Price"]
CLASSES = ["good", "bad"]  # The probability is of "bad" (the rarer class).


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def fit_steps(rows):
    """The preprocessing steps, fitted on `rows`."""
    steps = []
    for name in FEATURES:
        if name in CATEGORIES:
            steps.append({"feature": name, "one_hot": CATEGORIES[name]})
            continue
        values = sorted(float(r[name]) for r in rows if r[name] not in ("", "NA"))
        median = values[len(values) // 2]
        filled = [float(r[name]) if r[name] not in ("", "NA") else median for r in rows]
        mean = sum(filled) / len(filled)
        std = math.sqrt(sum((v - mean) ** 2 for v in filled) / len(filled)) or 1.0
        steps.append({"feature": name, "fill": median, "standardize": {"mean": mean, "std": std}})
    return steps


def transform(steps, row):
    """One raw row (a dict of strings, or None for missing) as the network's inputs.

    Written from the steps' definitions, independently of Vigil's C++, so the
    tests compare the two.
    """
    out = []
    for step in steps:
        value = row.get(step["feature"])
        missing = value is None or value in ("", "NA")
        if "one_hot" in step:
            out.extend(1.0 if not missing and value == c else 0.0 for c in step["one_hot"])
            continue
        x = float(step["fill"]) if missing else float(value)
        if "standardize" in step:
            x = (x - step["standardize"]["mean"]) / step["standardize"]["std"]
        if "min_max" in step:
            lo, hi = step["min_max"]["min"], step["min_max"]["max"]
            x = (x - lo) / (hi - lo)
        out.append(x)
    return out


class Net(torch.nn.Module):
    def __init__(self, width, hidden):
        super().__init__()
        layers = []
        for h in hidden:
            layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
            width = h
        self.layers = torch.nn.Sequential(*layers, torch.nn.Linear(width, 1))

    def forward(self, x):
        # One logit per row: Vigil's margin; the probability is its logistic.
        return self.layers(x).squeeze(1)


def yaml_list(values):
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def write_steps(path, steps, source, rows):
    with open(path, "w") as f:
        f.write(f"# Written by examples/credit_nn/train.py from {source} ({rows} rows).\n")
        f.write("preprocessing:\n")
        for s in steps:
            if "one_hot" in s:
                f.write(f"  - {{feature: {s['feature']}, one_hot: {yaml_list(s['one_hot'])}}}\n")
            else:
                st = s["standardize"]
                f.write(f"  - {{feature: {s['feature']}, fill: {s['fill']!r}, "
                        f"standardize: {{mean: {st['mean']!r}, std: {st['std']!r}}}}}\n")


def model_yaml(backend, artifact, width):
    lines = [f"# Written by examples/credit_nn/train.py.", f"backend: {backend}", f"artifact: {artifact}",
             "features:"]
    for name in FEATURES:
        if name in CATEGORIES:
            lines.append(f"  - {{name: {name}, type: categorical, categories: {yaml_list(CATEGORIES[name])}}}")
        else:
            lines.append(f"  - {{name: {name}, type: numeric}}")
    lines += [f"classes: {yaml_list(CLASSES)}", "outputs:", "  - {name: probability, kind: probability}",
              "  - {name: label, kind: label}", "  - {name: margin, kind: margin}",
              "instances: 2", "version_policy: {latest: 1}", ""]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--repository", required=True)
    parser.add_argument("--version", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--hidden", default="32,16", help="hidden layer widths, comma-separated")
    parser.add_argument("--name", default="credit", help="models NAME-torch and NAME-onnx")
    args = parser.parse_args()

    random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    rows = read_rows(args.data)
    random.shuffle(rows)
    cut = int(len(rows) * 0.85)
    train, test = rows[:cut], rows[cut:]
    steps = fit_steps(train)
    x = torch.tensor([transform(steps, r) for r in train], dtype=torch.float32)
    y = torch.tensor([1.0 if r["Status"] == "bad" else 0.0 for r in train])
    net = Net(x.shape[1], [int(h) for h in args.hidden.split(",") if h])
    optimiser = torch.optim.Adam(net.parameters(), lr=0.01, weight_decay=1e-4)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for _ in range(args.epochs):
        optimiser.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        optimiser.step()
    net.eval()

    # Held-out AUC (Mann-Whitney), to show the network learned something.
    with torch.no_grad():
        scores = net(torch.tensor([transform(steps, r) for r in test], dtype=torch.float32)).tolist()
    pos = [s for s, r in zip(scores, test) if r["Status"] == "bad"]
    neg = [s for s, r in zip(scores, test) if r["Status"] != "bad"]
    auc = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))

    example = torch.zeros(2, x.shape[1])
    source = os.path.basename(args.data)
    for backend, model in (("torchscript", args.name + "-torch"), ("onnx", args.name + "-onnx")):
        version_dir = os.path.join(args.repository, model, str(args.version))
        os.makedirs(version_dir, exist_ok=True)
        artifact = "model.pt" if backend == "torchscript" else "model.onnx"
        with torch.no_grad():
            if backend == "torchscript":
                torch.jit.trace(net, example).save(os.path.join(version_dir, artifact))
            else:
                torch.onnx.export(net, example, os.path.join(version_dir, artifact), input_names=["input"],
                                  output_names=["margin"], dynamic_axes={"input": {0: "batch"}, "margin": {0: "batch"}},
                                  opset_version=11)
        write_steps(os.path.join(version_dir, "preprocessing.yaml"), steps, source, len(train))
        with open(os.path.join(args.repository, model, "model.yaml"), "w") as f:
            f.write(model_yaml(backend, artifact, x.shape[1]))
    print(json.dumps({"rows": len(train), "inputs": x.shape[1], "hidden": args.hidden, "epochs": args.epochs, "loss": round(loss.item(), 4),
                      "test_rows": len(test), "test_auc": round(auc, 4)}))


if __name__ == "__main__":
    main()
