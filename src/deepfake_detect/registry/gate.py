"""The gate: is a candidate model sound, and is it at least as good as the current one?

Soundness comes first and is cheap: the card parses, the file is the one the card names (sha256),
ONNX Runtime loads it, its one input is a float NCHW image of the card's size, and a batch of two
gives the outputs the card names in the shapes the service reads. Only then are the two models
evaluated on the gate set and compared by ``decide``.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
from numpy.typing import ArrayLike, NDArray
from pydantic import ValidationError

from deepfake_detect.core.constants import CARD_FILE, CLASSIFIER_FILE
from deepfake_detect.core.metrics import roc_auc
from deepfake_detect.core.model_card import ModelCard, file_sha256
from deepfake_detect.registry.base import Decision, GateMetrics


class ArtifactError(ValueError):
    """The candidate cannot be served: missing, corrupt, or not shaped like the service expects."""


def unpack_artifact(archive: Path, directory: Path) -> Path:
    """Extract a SageMaker ``model.tar.gz``; returns the .onnx path (its card beside it)."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            # The "data" filter refuses absolute paths, links out of the folder and device files.
            tar.extractall(directory, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArtifactError(f"the model artifact is not a readable tar archive: {exc}") from exc
    return find_model(directory)


def find_model(directory: Path) -> Path:
    """The classifier in a training output folder: the shipped name, else the only .onnx with a card."""
    named = directory / CLASSIFIER_FILE
    if named.is_file():
        candidates = [named]
    else:
        candidates = [p for p in sorted(directory.rglob("*.onnx")) if p.with_suffix(".json").is_file()]
    if len(candidates) != 1:
        raise ArtifactError(
            f"expected one .onnx model with its .json card in the artifact, found {len(candidates)}"
        )
    if not candidates[0].with_suffix(".json").is_file():
        raise ArtifactError(f"the artifact has {CLASSIFIER_FILE} but no {CARD_FILE}")
    return candidates[0]


def validate_artifact(onnx_path: Path) -> ModelCard:
    """Check that the model can replace the current one; returns its card or raises ArtifactError."""
    try:
        card = ModelCard.load(onnx_path.with_suffix(".json"))
    except (OSError, ValidationError, ValueError) as exc:
        raise ArtifactError(f"the model card is missing or invalid: {exc}") from exc
    if card.sha256 and card.sha256 != file_sha256(onnx_path):
        raise ArtifactError("the .onnx file is not the one its model card names (sha256 differs)")
    try:
        session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own exception types for every kind of bad file
        raise ArtifactError(f"ONNX Runtime cannot load the model: {exc}") from exc
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise ArtifactError(f"the model has {len(inputs)} inputs; the service feeds one image batch")
    size = card.preprocessing.input_size
    shape = inputs[0].shape
    if inputs[0].type != "tensor(float)" or len(shape) != 4:
        raise ArtifactError(f"the input is {inputs[0].type} {shape}; expected a float NCHW batch")
    for axis, expected in ((1, 3), (2, size), (3, size)):
        if isinstance(shape[axis], int) and shape[axis] != expected:
            raise ArtifactError(f"the input is {shape}; the card says [N, 3, {size}, {size}]")
    names = {o.name for o in session.get_outputs()}
    wanted = [card.outputs.logit] + ([card.outputs.cam] if card.outputs.cam else [])
    missing = [name for name in wanted if name not in names]
    if missing:
        raise ArtifactError(f"the model has no output {missing}; its card names {wanted}")
    batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else 2
    try:
        outputs = session.run(wanted, {inputs[0].name: np.zeros((batch, 3, size, size), np.float32)})
    except Exception as exc:
        raise ArtifactError(f"the model fails on a batch of {batch} crops: {exc}") from exc
    logits = np.asarray(outputs[0])
    if logits.size != batch or not np.all(np.isfinite(logits)):
        raise ArtifactError(
            f"the logit output has shape {logits.shape} for a batch of {batch}; "
            "expected one finite logit per crop"
        )
    if card.outputs.cam:
        cam = np.asarray(outputs[1])
        if cam.ndim not in (3, 4) or cam.shape[0] != batch:
            raise ArtifactError(f"the CAM output has shape {cam.shape}; expected one map per crop")
    return card


# ---------------------------------------------------------------- metrics and the rule
def gate_metrics(labels: ArrayLike, scores: ArrayLike, threshold: float, skipped: int = 0) -> GateMetrics:
    y = np.asarray(labels, dtype=np.int64).ravel()
    s: NDArray[np.float64] = np.asarray(scores, dtype=np.float64).ravel()
    called = s >= threshold
    real, fake = y == 0, y == 1
    return GateMetrics(
        auc=roc_auc(y, s),
        fpr=float(called[real].mean()) if real.any() else None,
        tpr=float(called[fake].mean()) if fake.any() else None,
        threshold=threshold,
        n_real=int(real.sum()),
        n_fake=int(fake.sum()),
        n_skipped=skipped,
    )


def decide(
    candidate: GateMetrics,
    current: GateMetrics | None,
    *,
    max_auc_drop: float = 0.005,
    current_version: str | None = None,
) -> Decision:
    """Promote only if the candidate is not worse: AUC not lower by more than ``max_auc_drop`` and
    the false positive rate, each model at its own threshold, not higher."""

    def decision(promote: bool, reasons: list[str]) -> Decision:
        return Decision(
            promote=promote,
            reasons=reasons,
            candidate=candidate,
            current=current,
            current_version=current_version,
        )

    if candidate.auc is None or candidate.fpr is None:
        return decision(
            False,
            ["the gate set has no scored real or no scored fake file: the candidate cannot be measured"],
        )
    if current is None or current.auc is None or current.fpr is None:
        return decision(True, ["no measurable current model: the first sound candidate is promoted"])
    reasons = []
    if candidate.auc < current.auc - max_auc_drop:
        reasons.append(
            f"AUC {candidate.auc:.4f} is lower than the current {current.auc:.4f} by more than {max_auc_drop}"
        )
    if candidate.fpr > current.fpr:
        reasons.append(
            f"false positive rate {candidate.fpr:.4f} at threshold {candidate.threshold:.4f} "
            f"is higher than the current {current.fpr:.4f}"
        )
    if reasons:
        return decision(False, reasons)
    return decision(
        True,
        [
            f"not worse: AUC {candidate.auc:.4f} vs {current.auc:.4f}, false positive "
            f"rate {candidate.fpr:.4f} vs {current.fpr:.4f}"
        ],
    )
