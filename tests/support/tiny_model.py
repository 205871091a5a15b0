"""A tiny ONNX classifier with the real model's interface (logit + CAM), built in test set-up,
so core, CLI and API tests do not depend on the trained model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from deepfake_detect.core.hashing import file_sha256
from deepfake_detect.core.model_card import KindEvidence, ModelCard, Outputs, Preprocessing


def build_tiny_classifier(
    directory: Path,
    *,
    input_size: int = 64,
    threshold: float = 0.5,
    seed: int = 0,
    batch: int | str = "batch",
    kinds: bool = False,
    flip_tta: bool = False,
) -> Path:
    """Write ``tiny.onnx`` and its model card into ``directory``; return the ONNX path.

    ``batch`` is the input's batch dimension: symbolic (any batch) by default, or a fixed size
    as some exporters write it. The same ``seed`` gives the same weights. ``kinds`` adds the
    evidence-kind output (generated, swapped) with thresholds in the card; ``flip_tta`` asks the
    serving path to average each crop with its mirror.
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
    initializers = [
        numpy_helper.from_array(conv_w, "conv_w"),
        numpy_helper.from_array(head_w, "head_w"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axes"),
    ]
    outputs = [
        helper.make_tensor_value_info("logit", TensorProto.FLOAT, [batch, 1]),
        helper.make_tensor_value_info("cam", TensorProto.FLOAT, [batch, None, None]),
    ]
    if kinds:
        kind_w = rng.normal(0, 0.5, (2, 4, 1, 1)).astype(np.float32)
        initializers.append(numpy_helper.from_array(kind_w, "kind_w"))
        nodes += [
            helper.make_node("Conv", ["relu", "kind_w"], ["kind4d"]),
            helper.make_node("GlobalAveragePool", ["kind4d"], ["kind_pooled"]),
            helper.make_node("Flatten", ["kind_pooled"], ["kinds"], axis=1),
        ]
        outputs.append(helper.make_tensor_value_info("kinds", TensorProto.FLOAT, [batch, 2]))
    graph = helper.make_graph(
        nodes,
        "tiny_classifier",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 3, input_size, input_size])],
        outputs,
        initializers,
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
        preprocessing=Preprocessing(input_size=input_size, margin=0.2, flip_tta=flip_tta),
        outputs=Outputs(logit="logit", cam="cam", kinds="kinds" if kinds else None),
        threshold=threshold,
        kinds={"generated": KindEvidence(threshold=0.6), "swapped": KindEvidence(threshold=0.4)}
        if kinds
        else {},
    )
    card.save(path.with_suffix(".json"))
    return path
