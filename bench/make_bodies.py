#!/usr/bin/python3
"""Builds the v2 inference request bodies the benchmark sends.

Usage: make_bodies.py CSV MODEL_METADATA_JSON OUTDIR BATCH [BATCH...]
Writes OUTDIR/body_<BATCH>.json for each batch, taken from the first BATCH
rows of CSV (the first column, Status, is the label and is dropped).
MODEL_METADATA_JSON is vigil's GET /v2/models/credit answer, i.e. the
features of the model.yaml `vigil train` wrote, as the server read them.
(It is used instead of parsing model.yaml here: PyYAML reads the unquoted
categories [no, yes] as booleans, yaml-cpp as strings.)
Categorical columns become their index in the feature's category list (the
sorted distinct values); NA becomes null.
"""
import csv
import json
import os
import sys


def main():
    csv_path, metadata_path, outdir, *batches = sys.argv[1:]
    config = json.load(open(metadata_path))
    features = config["features"]
    with open(csv_path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    columns = [header.index(feat["name"]) for feat in features]
    if header[0] != "Status" or len(features) != 13:
        sys.exit(f"make_bodies: unexpected CSV header {header} or feature list")

    def encode(row):
        values = []
        for feat, col in zip(features, columns):
            raw = row[col].strip()
            if raw in ("", "NA"):
                values.append(None)
            elif feat["type"] == "categorical":
                values.append(feat["categories"].index(raw))
            else:
                number = float(raw)
                values.append(int(number) if number.is_integer() else number)
        return values

    for b in map(int, batches):
        if b > len(rows):
            sys.exit(f"make_bodies: batch {b} > {len(rows)} rows")
        data = [v for row in rows[:b] for v in encode(row)]
        body = {"inputs": [{"name": "input", "datatype": "FP32",
                            "shape": [b, len(features)], "data": data}]}
        with open(os.path.join(outdir, f"body_{b}.json"), "w") as out:
            json.dump(body, out, separators=(",", ":"))


if __name__ == "__main__":
    main()
