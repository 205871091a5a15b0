"""The gate set and the evaluation the gate runs on it.

A gate set is a folder with ``real/`` and ``fake/`` sub-folders of images or videos (in AWS, the
same layout under ``settings.aws.gate_prefix`` in the models bucket). Each model is scored through the
service's own pipeline (face detection, alignment, the model card's preprocessing and calibration,
per-file aggregation): the gate measures what users would get, never a training-side shortcut.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from deepfake_detect.core.classifier import Classifier
from deepfake_detect.core.config import PipelineConfig
from deepfake_detect.core.faces import FaceDetector
from deepfake_detect.core.formats import MEDIA_EXTENSIONS
from deepfake_detect.core.pipeline import ScanPipeline
from deepfake_detect.registry.base import GateMetrics
from deepfake_detect.registry.gate import gate_metrics

log = logging.getLogger(__name__)

LABELS = {"real": 0, "fake": 1}


class GateSetError(ValueError):
    """The gate set is missing or cannot measure a model (needs real and fake files)."""


@dataclass(frozen=True)
class GateSet:
    files: tuple[tuple[Path, int], ...]  # (path, 0 real / 1 fake)

    @classmethod
    def from_folder(cls, root: Path) -> GateSet:
        files: list[tuple[Path, int]] = []
        for name, label in LABELS.items():
            folder = root / name
            if folder.is_dir():
                files += [
                    (p, label)
                    for p in sorted(folder.rglob("*"))
                    if p.is_file() and p.suffix.lower() in MEDIA_EXTENSIONS
                ]
        gate = cls(tuple(files))
        if gate.count(0) == 0 or gate.count(1) == 0:
            raise GateSetError(
                f"the gate set {root} needs media files in both real/ and fake/ "
                f"(found {gate.count(0)} real, {gate.count(1)} fake)"
            )
        return gate

    def count(self, label: int) -> int:
        return sum(1 for _, y in self.files if y == label)


class Evaluator(Protocol):
    def evaluate(self, onnx_path: Path) -> GateMetrics:
        """Gate metrics of the model at ``onnx_path`` (its card beside it)."""
        ...


class PipelineEvaluator:
    """Scores every gate file with the full detection pipeline and the given classifier."""

    def __init__(
        self,
        config: PipelineConfig,
        gate: GateSet,
        face_detector: FaceDetector | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.config = config
        self.gate = gate
        self._faces = face_detector
        self.progress = progress  # progress(done, total) after each gate file

    def evaluate(self, onnx_path: Path) -> GateMetrics:
        classifier = Classifier(onnx_path, intra_op_threads=self.config.intra_op_threads)
        detector = ScanPipeline(self.config, classifier=classifier, face_detector=self._faces)
        self._faces = detector.face_detector  # loaded once, shared by every model evaluated
        labels: list[int] = []
        scores: list[float] = []
        skipped = 0
        for done, (path, label) in enumerate(self.gate.files, 1):
            result = detector.analyze(path).result
            if self.progress is not None:
                self.progress(done, len(self.gate.files))
            if result.error is not None or result.score is None:
                skipped += 1  # no face or unreadable: it cannot tell the models apart
                log.info(
                    "gate file %s has no score: %s",
                    path.name,
                    result.error.message if result.error else "no face found",
                )
                continue
            labels.append(label)
            scores.append(result.score)
        return gate_metrics(labels, scores, classifier.threshold, skipped)
