"""The fake-face classifier: one ONNX Runtime session, created once, scoring batches of crops."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from deepfake_detect.core.align import mirrored, to_tensor
from deepfake_detect.core.crop_geometry import CropGeometry
from deepfake_detect.core.hashing import file_sha256
from deepfake_detect.core.media.pixels import Frame
from deepfake_detect.core.model_card import ModelCard


class ModelIntegrityError(RuntimeError):
    """The ONNX file does not match its model card (wrong file, or a half-written copy)."""


@dataclass(frozen=True)
class Scores:
    probabilities: NDArray[np.float32]  # (N,) calibrated probability of fake
    cams: NDArray[np.float32] | None  # (N, h, w) in [0, 1], or None when the model has no CAM output
    # (N, K) calibrated probability of each evidence kind (card.outputs.kind_names), or None
    kinds: NDArray[np.float32] | None = None


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
        kinds = self.card.outputs.kinds
        self._has_kinds = kinds is not None and kinds in output_names and bool(self.card.kinds)
        if self._has_kinds and kinds is not None:
            self._outputs.append(kinds)
        self._kind_temperatures = np.array(
            [self.card.kinds[k].temperature for k in self.card.outputs.kind_names] if self._has_kinds else [],
            np.float32,
        )

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

    @property
    def threshold_real(self) -> float | None:
        return self.card.threshold_real

    def score(self, crops: list[Frame], batch_size: int = 32) -> Scores:
        """Calibrated fake probabilities for aligned BGR crops of ``input_size``.

        With ``flip_tta`` in the card each crop is also scored as its mirror image and the two
        logits (and maps, the mirror's flipped back) are averaged, as they were in calibration."""
        if not crops:
            return Scores(np.zeros(0, np.float32), None)
        pre = self.card.preprocessing
        probabilities: list[NDArray[np.float32]] = []
        cams: list[NDArray[np.float32]] = []
        kinds: list[NDArray[np.float32]] = []
        size = self._fixed_batch or max(1, batch_size)
        for start in range(0, len(crops), size):
            chunk = crops[start : start + size]
            batch = to_tensor(chunk, pre.mean, pre.std)
            outputs = self._run(batch)
            if pre.flip_tta:
                flipped = self._unmirror(self._run(mirrored(batch)))
                outputs = [np.float32(0.5) * (a + b) for a, b in zip(outputs, flipped, strict=True)]
            logits = outputs[0].reshape(len(chunk))
            probabilities.append(_sigmoid(logits / self.card.calibration.temperature))
            if self._has_cam:
                cams.append(_normalise_cams(outputs[1]))
            if self._has_kinds:
                kinds.append(_sigmoid(outputs[-1].reshape(len(chunk), -1) / self._kind_temperatures))
        return Scores(
            np.concatenate(probabilities),
            np.concatenate(cams) if cams else None,
            np.concatenate(kinds) if kinds else None,
        )

    def _run(self, batch: NDArray[np.float32]) -> list[NDArray[np.float32]]:
        """Every output for one batch, padded to a fixed batch size where the model has one."""
        count = len(batch)
        if self._fixed_batch is not None and count < self._fixed_batch:
            pad = np.zeros((self._fixed_batch - count, *batch.shape[1:]), np.float32)
            batch = np.concatenate([batch, pad])
        outputs = self._session.run(self._outputs, {self._input_name: batch})
        return [np.asarray(o, dtype=np.float32)[:count] for o in outputs]

    def _unmirror(self, outputs: list[NDArray[np.float32]]) -> list[NDArray[np.float32]]:
        """A mirrored batch's outputs with its maps flipped back onto the original face."""
        if self._has_cam:
            outputs[1] = np.ascontiguousarray(outputs[1][..., ::-1])
        return outputs


def _normalise_cams(raw: NDArray[np.float32]) -> NDArray[np.float32]:
    """Scale each map to [0, 1] over its own range: the page shows where, the score shows how much."""
    maps = raw.reshape(raw.shape[0], raw.shape[-2], raw.shape[-1])
    low = maps.min(axis=(1, 2), keepdims=True)
    high = maps.max(axis=(1, 2), keepdims=True)
    normalised: NDArray[np.float32] = ((maps - low) / np.maximum(high - low, 1e-6)).astype(np.float32)
    return normalised
