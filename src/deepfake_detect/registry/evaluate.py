"""The gate set and the evaluation the gate runs on it.

A gate set is a folder with ``real/`` and ``fake/`` sub-folders of images or videos (in AWS, the
same layout under ``settings.aws.gate_prefix`` in the models bucket). Each model is scored through the
service's own pipeline (``ScanPipeline.analyze``: face detection, alignment, the model card's
preprocessing and calibration, per-file aggregation): the gate measures what users would get, never
a training-side shortcut. Every file's score is kept, named by its path inside the gate set, so two
models' results pair up file by file.

The gate's time is bounded: at most ``max_per_class`` files per class, of which at most
``max_videos_per_class`` videos (a video costs about 40 images: 32 frames decoded and scored). A
larger folder is cut to a fixed subset (files ordered by the sha256 of their path, so the subset
does not depend on how files are named or listed). The evaluator also takes a deadline and stops
with ``GateTimeoutError`` rather than let the function's own timeout kill it mid-way.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from deepfake_detect.core.classifier import Classifier
from deepfake_detect.core.config import PipelineConfig
from deepfake_detect.core.faces import FaceDetector
from deepfake_detect.core.formats import MEDIA_EXTENSIONS, VIDEO_EXTENSIONS
from deepfake_detect.core.model_card import ModelCard
from deepfake_detect.core.pipeline import ScanPipeline
from deepfake_detect.registry.gate import ModelScores

log = logging.getLogger(__name__)

LABELS = {"real": 0, "fake": 1}


class GateSetError(ValueError):
    """The gate set is missing or cannot measure a model (needs real and fake files)."""


class GateTimeoutError(RuntimeError):
    """The evaluation did not finish within its time budget (the gate set is too large)."""


def select_files(
    names: Iterable[str], *, max_per_class: int | None = None, max_videos_per_class: int | None = None
) -> tuple[list[str], dict[str, int]]:
    """The gate files to use, from their paths inside the gate set (``real/...``, ``fake/...``), and
    the media files found per class. Beyond the bounds a fixed subset is kept: files ordered by the
    sha256 of their path, so the subset depends neither on naming nor on listing order."""
    chosen: list[str] = []
    found: dict[str, int] = {}
    media = [n for n in names if PurePosixPath(n).suffix.lower() in MEDIA_EXTENSIONS]
    for label in LABELS:
        candidates = sorted(
            (n for n in media if n.startswith(f"{label}/")),
            key=lambda n: hashlib.sha256(n.encode()).hexdigest(),
        )
        found[label] = len(candidates)
        kept: list[str] = []
        videos = 0
        for name in candidates:
            if max_per_class is not None and len(kept) >= max_per_class:
                break
            if PurePosixPath(name).suffix.lower() in VIDEO_EXTENSIONS:
                if max_videos_per_class is not None and videos >= max_videos_per_class:
                    continue
                videos += 1
            kept.append(name)
        chosen += sorted(kept)
    return chosen, found


@dataclass(frozen=True)
class GateSet:
    files: tuple[tuple[Path, int], ...]  # (path, 0 real / 1 fake)
    root: Path | None = None
    available: dict[str, int] = field(default_factory=dict)  # files found per class, before the bound

    @classmethod
    def from_folder(
        cls, root: Path, *, max_per_class: int | None = None, max_videos_per_class: int | None = None
    ) -> GateSet:
        names = (
            [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()] if root.is_dir() else []
        )
        chosen, available = select_files(
            names, max_per_class=max_per_class, max_videos_per_class=max_videos_per_class
        )
        files = tuple((root / name, LABELS[name.split("/", 1)[0]]) for name in chosen)
        gate = cls(files, root, available)
        if gate.count(0) == 0 or gate.count(1) == 0:
            raise GateSetError(
                f"the gate set {root} needs media files in both real/ and fake/ "
                f"(found {gate.count(0)} real, {gate.count(1)} fake)"
            )
        if gate.count(0) < available["real"] or gate.count(1) < available["fake"]:
            log.warning(
                "the gate set %s is bounded: %d of %d real and %d of %d fake files are used",
                root,
                gate.count(0),
                available["real"],
                gate.count(1),
                available["fake"],
            )
        return gate

    def count(self, label: int) -> int:
        return sum(1 for _, y in self.files if y == label)

    def name(self, path: Path) -> str:
        """The file's name in reports and pairings: its path inside the gate set."""
        return path.relative_to(self.root).as_posix() if self.root else path.name

    def info(self) -> dict[str, int]:
        """What the report says about the set: files used and found per class."""
        return {
            "real_used": self.count(0),
            "real_found": self.available.get("real", self.count(0)),
            "fake_used": self.count(1),
            "fake_found": self.available.get("fake", self.count(1)),
        }


class Evaluator(Protocol):
    def evaluate(self, onnx_path: Path) -> ModelScores:
        """Every gate file's score by the model at ``onnx_path`` (its card beside it)."""
        ...

    def info(self) -> dict[str, Any]:
        """What the report says about the gate set (files used and found per class)."""
        ...


def card_max_fpr(card: ModelCard) -> float | None:
    """The false positive rate the card's threshold was chosen for (training's ``max_fpr``)."""
    value = card.training.get("max_fpr")
    return float(value) if isinstance(value, int | float) and 0.0 < value <= 1.0 else None


class PipelineEvaluator:
    """Scores every gate file with the full detection pipeline and the given classifier."""

    def __init__(
        self,
        config: PipelineConfig,
        gate: GateSet,
        face_detector: FaceDetector | None = None,
        progress: Callable[[int, int], None] | None = None,
        deadline: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.gate = gate
        self._faces = face_detector
        self.progress = progress  # progress(done, total) after each gate file
        self.deadline = deadline  # a ``clock()`` value; past it the evaluation stops
        self.clock = clock

    def info(self) -> dict[str, Any]:
        return dict(self.gate.info())

    def evaluate(self, onnx_path: Path) -> ModelScores:
        classifier = Classifier(onnx_path, intra_op_threads=self.config.intra_op_threads)
        detector = ScanPipeline(self.config, classifier=classifier, face_detector=self._faces)
        self._faces = detector.face_detector  # loaded once, shared by every model evaluated
        names: list[str] = []
        labels: list[int] = []
        scores: list[float | None] = []
        for done, (path, label) in enumerate(self.gate.files, 1):
            if self.deadline is not None and self.clock() > self.deadline:
                raise GateTimeoutError(
                    f"the gate's time budget ran out after {done - 1} of {len(self.gate.files)} files "
                    f"of model {classifier.card.version}: lower gate_max_per_class"
                )
            result = detector.analyze(path).result
            if self.progress is not None:
                self.progress(done, len(self.gate.files))
            score = None if result.error is not None else result.score
            if score is None:  # no face or unreadable: the pairing leaves it out
                log.info(
                    "gate file %s has no score: %s",
                    path.name,
                    result.error.message if result.error else "no face found",
                )
            names.append(self.gate.name(path))
            labels.append(label)
            scores.append(score)
        return ModelScores(
            version=classifier.card.version,
            threshold=classifier.threshold,
            max_fpr=card_max_fpr(classifier.card),
            files=tuple(names),
            labels=tuple(labels),
            scores=tuple(scores),
        )
