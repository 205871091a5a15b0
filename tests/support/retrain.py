"""Test material for the retraining loop: a gate set of real face photos plus synthetic fakes, and
tiny classifiers with the shipped model's interface (input, logit, cam) that can or cannot see
the synthetic manipulation, so a test knows which candidate must win the gate.

The synthetic manipulation is a strong green cast over the photo. ``build_cast_classifier`` scores
the mean positive (G - R) of the aligned crop: real skin has G < R, cast faces have G > R.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import cv2
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from deepfake_detect.core.hashing import file_sha256
from deepfake_detect.core.model_card import ModelCard, Outputs, Preprocessing

# deepface_photos files with one clear face each (see tests/conftest.py's face_photo).
REAL_PHOTOS = ("img1.jpg", "img2.jpg", "img3.jpg", "img4.jpg", "img5.jpg")
FAKE_SOURCES = ("img6.jpg", "img7.jpg", "img8.jpg", "img9.jpg", "img10.jpg")


def green_cast(image: np.ndarray) -> np.ndarray:
    out = image.astype(np.float32)
    out[..., 1] = out[..., 1] * 0.8 + 90.0  # BGR: green up
    out[..., 2] *= 0.7  # red down
    return np.clip(out, 0, 255).astype(np.uint8)


def build_gate_set(data: Path, root: Path) -> Path:
    """``root/real`` (untouched photos) and ``root/fake`` (green-cast photos of other people)."""
    (root / "real").mkdir(parents=True, exist_ok=True)
    (root / "fake").mkdir(parents=True, exist_ok=True)
    for name in REAL_PHOTOS:
        (root / "real" / name).write_bytes((data / "deepface_photos" / name).read_bytes())
    for name in FAKE_SOURCES:
        image = cv2.imread(str(data / "deepface_photos" / name))
        assert image is not None, name
        cv2.imwrite(str(root / "fake" / name), green_cast(image))
    return root


def build_cast_classifier(
    directory: Path, *, version: str, sign: float = 1.0, threshold: float = 0.5, input_size: int = 64
) -> Path:
    """``deepfake_classifier.onnx`` + card: logit = sign * (k * mean(relu(G - R)) - bias).

    sign=+1 sees the green cast (a good model on the gate set); sign=-1 is its exact opposite.
    """
    conv_w = np.zeros((4, 3, 3, 3), np.float32)
    # Inputs are ImageNet-normalised RGB: channel 1 is G, channel 0 is R.
    conv_w[0, 1, 1, 1], conv_w[0, 0, 1, 1] = 1.0, -1.0
    head_w = np.zeros((1, 4, 1, 1), np.float32)
    head_w[0, 0, 0, 0] = 8.0 * sign
    head_b = np.array([-2.0 * sign], np.float32)
    nodes = [
        helper.make_node("Conv", ["input", "conv_w"], ["features"], strides=[4, 4], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["features"], ["relu"]),
        helper.make_node("Conv", ["relu", "head_w", "head_b"], ["cam4d"]),
        helper.make_node("GlobalAveragePool", ["cam4d"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["logit"], axis=1),
        helper.make_node("Squeeze", ["cam4d", "axes"], ["cam"]),
    ]
    graph = helper.make_graph(
        nodes,
        "cast_classifier",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, input_size, input_size])],
        [
            helper.make_tensor_value_info("logit", TensorProto.FLOAT, ["batch", 1]),
            helper.make_tensor_value_info("cam", TensorProto.FLOAT, ["batch", None, None]),
        ],
        [
            numpy_helper.from_array(conv_w, "conv_w"),
            numpy_helper.from_array(head_w, "head_w"),
            numpy_helper.from_array(head_b, "head_b"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "axes"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "deepfake_classifier.onnx"
    onnx.save(model, path)
    ModelCard(
        name="cast-test-classifier",
        version=version,
        sha256=file_sha256(path),
        preprocessing=Preprocessing(input_size=input_size, margin=0.2),
        outputs=Outputs(logit="logit", cam="cam"),
        threshold=threshold,
    ).save(path.with_suffix(".json"))
    return path


def model_tarball(onnx_path: Path) -> bytes:
    """A SageMaker-style ``model.tar.gz`` holding the model and its card at the archive root."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in (onnx_path, onnx_path.with_suffix(".json")):
            tar.add(path, arcname=path.name)
    return buffer.getvalue()
