"""A tiny ONNX classifier with the real model's interface (logit + CAM), built in test set-up,
so core, CLI and API tests do not depend on the trained model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from deepfake_detect.core.model_card import ModelCard, Outputs, Preprocessing, file_sha256


def build_tiny_classifier(
    directory: Path,
    *,
    input_size: int = 64,
    threshold: float = 0.5,
    seed: int = 0,
    batch: int | str = "batch",
) -> Path:
    """Write ``tiny.onnx`` and its model card into ``directory``; return the ONNX path.

    ``batch`` is the input's batch dimension: symbolic (any batch) by default, or a fixed size
    as some exporters write it. The same ``seed`` gives the same weights.
    """
    rng = np.random.default_rng(seed)
    conv_w = rng.normal(0, 0.5, (4, 3, 3, 3)).astype(np.float32)
    head_w = rng.normal(0, 0.5, (1, 4, 1, 1)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["input", "conv_w"], ["features"], strides=[4, 4], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["features"], ["relu"]),
        helper.make_node("Conv", ["relu", "head_w"], ["cam4d"]),
        helper.make_node("GlobalAveragePool", ["cam4d"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["logit"], axis=1),
        helper.make_node("Squeeze", ["cam4d", "axes"], ["cam"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_classifier",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 3, input_size, input_size])],
        [
            helper.make_tensor_value_info("logit", TensorProto.FLOAT, [batch, 1]),
            helper.make_tensor_value_info("cam", TensorProto.FLOAT, [batch, None, None]),
        ],
        [
            numpy_helper.from_array(conv_w, "conv_w"),
            numpy_helper.from_array(head_w, "head_w"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "axes"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "tiny.onnx"
    onnx.save(model, path)
    card = ModelCard(
        name="tiny-test-classifier",
        version="0.0.1",
        sha256=file_sha256(path),
        architecture="2 conv layers (test only)",
        preprocessing=Preprocessing(input_size=input_size, margin=0.2),
        outputs=Outputs(logit="logit", cam="cam"),
        threshold=threshold,
    )
    card.save(path.with_suffix(".json"))
    return path
