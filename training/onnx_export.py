"""Export the trained network to ONNX (outputs ``logit``, ``cam`` and ``kinds``, dynamic batch) and check
it against torch on real crops before anyone can use it."""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from numpy.typing import NDArray

from training.model import FakeFaceNet

log = logging.getLogger(__name__)

OPSET = 17
INPUT_NAME, LOGIT_NAME, CAM_NAME, KINDS_NAME = "input", "logit", "cam", "kinds"
PARITY_TOLERANCE = 1e-4


class ExportParityError(RuntimeError):
    """ONNX Runtime and torch disagree on the exported model."""


def export_onnx(model: FakeFaceNet, path: Path, input_size: int) -> None:
    """Write ``model`` (in eval mode, on the CPU) as ONNX with a dynamic batch dimension."""
    model = model.eval().to("cpu")
    example = torch.zeros(2, 3, input_size, input_size)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation chatter, not our problem
        torch.onnx.export(
            model,
            (example,),
            str(path),
            input_names=[INPUT_NAME],
            output_names=[LOGIT_NAME, CAM_NAME, KINDS_NAME],
            dynamic_axes={name: {0: "batch"} for name in (INPUT_NAME, LOGIT_NAME, CAM_NAME, KINDS_NAME)},
            opset_version=OPSET,
            dynamo=False,
        )
    onnx.checker.check_model(onnx.load(str(path)))


def onnx_outputs(path: Path, batch: NDArray[np.float32], threads: int = 0) -> tuple[NDArray[np.float32], ...]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    outputs = session.run([LOGIT_NAME, CAM_NAME, KINDS_NAME], {INPUT_NAME: batch})
    return tuple(np.asarray(o, np.float32) for o in outputs)


def check_parity(
    model: FakeFaceNet, path: Path, batch: NDArray[np.float32], tolerance: float = PARITY_TOLERANCE
) -> float:
    """Max |torch - onnx| over every output on ``batch``; raises above ``tolerance``."""
    model = model.eval().to("cpu")
    with torch.no_grad():
        expected = [t.numpy() for t in model(torch.from_numpy(batch))]
    got = onnx_outputs(path, batch)
    if [o.shape for o in got] != [e.shape for e in expected]:
        raise ExportParityError(
            f"shapes differ: onnx {[o.shape for o in got]}, torch {[e.shape for e in expected]}"
        )
    diff = max(float(np.abs(o - e).max()) for o, e in zip(got, expected, strict=True))
    if not diff <= tolerance:
        raise ExportParityError(f"ONNX output differs from torch by {diff:.2e} (> {tolerance:.0e})")
    return diff


def latency_ms_per_face(
    path: Path, input_size: int, batch: int = 1, threads: int = 1, repeats: int = 50
) -> float:
    """Median ONNX Runtime latency per face (batch of ``batch``) on ``threads`` CPU threads."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).normal(size=(batch, 3, input_size, input_size)).astype(np.float32)
    for _ in range(5):
        session.run(None, {INPUT_NAME: x})
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        session.run(None, {INPUT_NAME: x})
        times.append((time.perf_counter() - start) * 1000.0)
    return float(np.median(times)) / batch
