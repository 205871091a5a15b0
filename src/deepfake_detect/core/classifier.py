"""The fake-face classifier: one ONNX Runtime session, created once, scoring batches of crops."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from deepfake_detect.core.align import to_tensor
from deepfake_detect.core.crop_geometry import CropGeometry
from deepfake_detect.core.media import Frame
from deepfake_detect.core.model_card import ModelCard, file_sha256


class ModelIntegrityError(RuntimeError):
    """The ONNX file does not match its model card (wrong file, or a half-written copy)."""


@dataclass(frozen=True)
class Scores:
    probabilities: NDArray[np.float32]  # (N,) calibrated probability of fake
    cams: NDArray[np.float32] | None  # (N, h, w) in [0, 1], or None when the model has no CAM output


def _sigmoid(x: NDArray[np.float32]) -> NDArray[np.float32]:
    # The tanh form never overflows, unlike 1 / (1 + exp(-x)) for large negative logits.
    probabilities: NDArray[np.float32] = (0.5 * (1.0 + np.tanh(0.5 * x))).astype(np.float32)
    return probabilities


class Classifier:
    def __init__(
        self,
        model_path: Path,
        card: ModelCard | None = None,
        *,
        intra_op_threads: int = 0,
        verify_sha256: bool = True,
    ) -> None:
        if not model_path.is_file():
            raise FileNotFoundError(f"classifier model not found at {model_path}")
        self.card = card or ModelCard.load(model_path.with_suffix(".json"))
        self.sha256 = file_sha256(model_path)
        if verify_sha256 and self.card.sha256 and self.card.sha256 != self.sha256:
            raise ModelIntegrityError(
                f"{model_path.name} has sha256 {self.sha256}, its model card says {self.card.sha256}"
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        # ONNX Runtime's threads otherwise spin after each run, taking the cores that face
        # detection and video decoding need next (and other scans' threads): measured slower.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        model_input = self._session.get_inputs()[0]
        self._input_name = model_input.name
        # A model exported with a fixed batch dimension takes batches of exactly that size.
        fixed_batch = model_input.shape[0] if model_input.shape else None
        self._fixed_batch = fixed_batch if isinstance(fixed_batch, int) and fixed_batch > 0 else None
        output_names = {o.name for o in self._session.get_outputs()}
        if self.card.outputs.logit not in output_names:
            raise ModelIntegrityError(f"model has no output named {self.card.outputs.logit!r}")
        self._outputs = [self.card.outputs.logit]
        cam = self.card.outputs.cam
        self._has_cam = cam is not None and cam in output_names
        if self._has_cam and cam is not None:
            self._outputs.append(cam)

    @property
    def input_size(self) -> int:
        return self.card.preprocessing.input_size

    @property
    def margin(self) -> float:
        return self.card.preprocessing.margin

    @property
    def geometry(self) -> CropGeometry:
        return self.card.preprocessing.geometry()

    @property
    def threshold(self) -> float:
        return self.card.threshold

    def score(self, crops: list[Frame], batch_size: int = 32) -> Scores:
        """Calibrated fake probabilities for aligned BGR crops of ``input_size``."""
        if not crops:
            return Scores(np.zeros(0, np.float32), None)
        pre = self.card.preprocessing
        probabilities: list[NDArray[np.float32]] = []
        cams: list[NDArray[np.float32]] = []
        size = self._fixed_batch or max(1, batch_size)
        for start in range(0, len(crops), size):
            chunk = crops[start : start + size]
            batch = to_tensor(chunk, pre.mean, pre.std)
            if self._fixed_batch is not None and len(chunk) < size:
                batch = np.concatenate([batch, np.zeros((size - len(chunk), *batch.shape[1:]), np.float32)])
            outputs = self._session.run(self._outputs, {self._input_name: batch})
            logits = np.asarray(outputs[0], dtype=np.float32).reshape(len(batch))[: len(chunk)]
            probabilities.append(_sigmoid(logits / self.card.calibration.temperature))
            if self._has_cam:
                cams.append(_normalise_cams(np.asarray(outputs[1], dtype=np.float32)[: len(chunk)]))
        return Scores(np.concatenate(probabilities), np.concatenate(cams) if cams else None)


def _normalise_cams(raw: NDArray[np.float32]) -> NDArray[np.float32]:
    """Scale each map to [0, 1] over its own range: the page shows where, the score shows how much."""
    maps = raw.reshape(raw.shape[0], raw.shape[-2], raw.shape[-1])
    low = maps.min(axis=(1, 2), keepdims=True)
    high = maps.max(axis=(1, 2), keepdims=True)
    normalised: NDArray[np.float32] = ((maps - low) / np.maximum(high - low, 1e-6)).astype(np.float32)
    return normalised
