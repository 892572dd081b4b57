#!/usr/bin/python3
"""The Python baseline for bench/run: the stack teams use today.

FastAPI + uvicorn + xgboost + prometheus_client, serving one XGBoost model
over the same Open Inference Protocol (KServe v2) REST subset that vigil
serves for the benchmark:

  POST /v2/models/{model}/infer   -> probability, label, margin outputs
  GET  /v2/health/ready            -> 200 once the model is loaded
  GET  /metrics                    -> Prometheus text format

Written the way a team would write it for production, not as a strawman:
pydantic request models (422 on malformed input), one Booster per worker
loaded at start-up, inplace_predict on a float32 array (no DMatrix per
request), a request Counter and a latency Histogram, and Prometheus
multiprocess mode when PROMETHEUS_MULTIPROC_DIR is set (needed for the
counts to be right with `uvicorn --workers N`).

Configuration (environment, since uvicorn imports this module by name):
  MODEL_DIR    directory holding model.json (REPO/credit/1)   [required]
  MODEL_NAME   name served under /v2/models/                  [credit]
  MODEL_VERSION                                               [1]
  CLASSES      comma-separated negative,positive class names  [good,bad]
  LABEL_THRESHOLD  probability at or above which the label is the positive class [0.5]
  XGB_NTHREAD  xgboost threads per worker                     [1]

Run: MODEL_DIR=... uvicorn fastapi_server:app --host 127.0.0.1 --port 8000 --workers 2
"""
import os
import time
import uuid
from typing import List, Optional

import numpy as np
import xgboost as xgb
from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse, Response
from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter,
                               Histogram, generate_latest, multiprocess)
from pydantic import BaseModel

MODEL_DIR = os.environ["MODEL_DIR"]
MODEL_NAME = os.environ.get("MODEL_NAME", "credit")
MODEL_VERSION = os.environ.get("MODEL_VERSION", "1")
CLASSES = os.environ.get("CLASSES", "good,bad").split(",")
LABEL_THRESHOLD = float(os.environ.get("LABEL_THRESHOLD", "0.5"))

booster = xgb.Booster(model_file=os.path.join(MODEL_DIR, "model.json"))
booster.set_param({"nthread": int(os.environ.get("XGB_NTHREAD", "1"))})
NUM_FEATURES = booster.num_features()

REQUESTS = Counter("inference_requests_total", "Inference requests",
                   ["model", "status"])
LATENCY = Histogram("inference_request_duration_seconds",
                    "Inference request latency, parse to response",
                    ["model"],
                    buckets=(.0001, .00025, .0005, .001, .0025, .005, .01,
                             .025, .05, .1, .25, .5, 1.0))


class InferInput(BaseModel):
    name: str
    datatype: str
    shape: List[int]
    data: List[Optional[float]]


class InferRequest(BaseModel):
    id: Optional[str] = None
    inputs: List[InferInput]


app = FastAPI(title="credit model (FastAPI baseline)")


@app.get("/v2/health/ready")
async def ready():
    return {"ready": True}


@app.get("/metrics")
def metrics():
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


# async: the prediction is sub-millisecond and CPU-bound; a plain `def`
# would add a thread-pool hop per request for nothing.
@app.post("/v2/models/{model_name}/infer")
async def infer(model_name: str, request: InferRequest):
    start = time.perf_counter()
    status = "error"
    try:
        if model_name != MODEL_NAME:
            raise HTTPException(404, f"unknown model '{model_name}'")
        if len(request.inputs) != 1:
            raise HTTPException(400, "expected exactly one input tensor")
        tensor = request.inputs[0]
        if (len(tensor.shape) != 2 or tensor.shape[1] != NUM_FEATURES
                or tensor.shape[0] * NUM_FEATURES != len(tensor.data)):
            raise HTTPException(
                400, f"input shape {tensor.shape} with {len(tensor.data)} "
                     f"values does not match [-1, {NUM_FEATURES}]")
        # None (JSON null) -> NaN = missing for xgboost.
        x = np.array([np.nan if v is None else v for v in tensor.data],
                     dtype=np.float32).reshape(tensor.shape)
        margin = booster.inplace_predict(x, predict_type="margin")
        probability = 1.0 / (1.0 + np.exp(-margin.astype(np.float64)))
        probability = probability.astype(np.float32)
        labels = [CLASSES[1] if p >= LABEL_THRESHOLD else CLASSES[0]
                  for p in probability]
        n = [int(tensor.shape[0])]
        body = {
            "model_name": MODEL_NAME,
            "model_version": MODEL_VERSION,
            "id": request.id or str(uuid.uuid4()),
            "outputs": [
                {"name": "probability", "datatype": "FP32", "shape": n,
                 "data": probability.tolist()},
                {"name": "label", "datatype": "BYTES", "shape": n,
                 "data": labels},
                {"name": "margin", "datatype": "FP32", "shape": n,
                 "data": margin.tolist()},
            ],
        }
        status = "ok"
        return JSONResponse(body)
    finally:
        REQUESTS.labels(MODEL_NAME, status).inc()
        LATENCY.labels(MODEL_NAME).observe(time.perf_counter() - start)
