"""The live model swap on the detect side: a promoted model reaches running workers without a
redeploy.

``LivePipeline`` is a ``ScanPipeline`` that, before a scan, re-reads the registry's pointer when the last
check is older than ``interval_s`` (``settings.model_refresh_s``, default 300 s; the SSM read is
the only cost). When the pointer names another model it is downloaded, loaded and checked
(sha256 against its card) *before* it replaces the classifier, so a bad pointer or a failed
download leaves the worker serving the model it had, and it tries again after the interval.
Every result names the model version that produced it (``DetectionResult.model``).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from deepfake_detect.core.classifier import Classifier
from deepfake_detect.core.config import PipelineConfig
from deepfake_detect.core.faces import FaceDetector
from deepfake_detect.core.pipeline import Analysis, Progress, ScanPipeline
from deepfake_detect.registry.base import ModelPointer, ModelRegistry

log = logging.getLogger(__name__)


class LivePipeline(ScanPipeline):
    """A ``ScanPipeline`` whose classifier follows the registry's pointer (checked at most every
    ``interval_s`` seconds, before a scan). Use it wherever a ``ScanPipeline`` is built."""

    def __init__(
        self,
        config: PipelineConfig,
        registry: ModelRegistry,
        cache_dir: Path,
        *,
        interval_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        classifier: Classifier | None = None,
        face_detector: FaceDetector | None = None,
    ) -> None:
        super().__init__(config, classifier=classifier, face_detector=face_detector)
        self.registry = registry
        self.cache_dir = cache_dir
        self.interval_s = interval_s
        self._clock = clock
        self._checked_at: float | None = None
        self.version = self.classifier.card.version
        self.refresh(force=True)  # a cold start serves the pointer's model, not whatever was baked in

    def refresh(self, *, force: bool = False) -> bool:
        """Swap in the pointer's model if it changed; True when a swap happened. Never raises."""
        now = self._clock()
        if not force and self._checked_at is not None and now - self._checked_at < self.interval_s:
            return False
        self._checked_at = now
        try:
            pointer = self.registry.current()
            if pointer is None or self._serving(pointer):
                return False
            classifier = self._load(pointer)
        except Exception:  # SSM throttled, S3 down, a bad file: keep serving, retry after the interval
            log.exception("cannot refresh the model; still serving %s", self.version)
            return False
        previous = self.version
        self.classifier = classifier
        self.version = pointer.version
        log.info("model swapped: %s -> %s", previous, pointer.version)
        return True

    def _serving(self, pointer: ModelPointer) -> bool:
        if pointer.sha256 and pointer.sha256 == self.classifier.sha256:
            self.version = pointer.version
            return True
        return pointer.version == self.version and not pointer.sha256

    def _load(self, pointer: ModelPointer) -> Classifier:
        # Only the newest download is kept: /tmp in Lambda is small.
        shutil.rmtree(self.cache_dir, ignore_errors=True)
        path = self.registry.fetch(pointer, self.cache_dir)
        classifier = Classifier(path, intra_op_threads=self.config.intra_op_threads)
        if pointer.sha256 and classifier.sha256 != pointer.sha256:
            raise ValueError(
                f"downloaded model has sha256 {classifier.sha256}, the pointer says {pointer.sha256}"
            )
        return classifier

    def analyze(
        self,
        path: Path,
        *,
        display_path: str | None = None,
        progress: Progress | None = None,
        pictures: bool = False,
    ) -> Analysis:
        self.refresh()
        return super().analyze(path, display_path=display_path, progress=progress, pictures=pictures)
