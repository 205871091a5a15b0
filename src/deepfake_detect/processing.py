"""Runs the detector for the local service: one worker thread owns the models and does all scans.

Uploads are queued here; images are awaited by the request, videos finish in the background.
Records still ``queued`` or ``processing`` when the service stopped are picked up on start, so
no upload is lost to a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import cv2

from deepfake_detect.core.errors import ErrorCode
from deepfake_detect.core.pipeline import Analysis, Detector
from deepfake_detect.core.result import DetectionResult, Status
from deepfake_detect.settings import Settings
from deepfake_detect.store.base import MediaStore, ResultStore

log = logging.getLogger(__name__)

EVIDENCE_MAX_SIDE = 1280


def evidence_key(result_id: str) -> str:
    return f"evidence/{result_id}.jpg"


def encode_evidence(analysis: Analysis) -> tuple[bytes, float] | None:
    """The evidence frame as JPEG, downscaled for the page, and the scale applied to it."""
    if analysis.evidence is None:
        return None
    image = analysis.evidence
    scale = min(1.0, EVIDENCE_MAX_SIDE / max(image.shape[:2]))
    if scale < 1.0:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 88])
    return (buffer.tobytes(), scale) if ok else None


class LocalProcessor:
    def __init__(self, settings: Settings, media: MediaStore, results: ResultStore,
                 detector: Detector | None = None) -> None:
        self.settings = settings
        self.media = media
        self.results = results
        self._detector = detector
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="detector")
        self._lock = threading.Lock()

    def start(self) -> Future[None]:
        """Load the models in the worker thread and resume unfinished work."""
        future = self._executor.submit(self._load)
        for record in self.results.pending():
            self.submit(record.id)
        return future

    def _load(self) -> None:
        if self._detector is None:
            self._detector = Detector(self.settings)

    @property
    def detector(self) -> Detector:
        self._executor.submit(self._load).result()
        assert self._detector is not None
        return self._detector

    def submit(self, result_id: str) -> Future[DetectionResult | None]:
        return self._executor.submit(self._process, result_id)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _process(self, result_id: str) -> DetectionResult | None:
        self._load()
        assert self._detector is not None
        record = self.results.get(result_id)
        if record is None or record.status in (Status.DONE, Status.FAILED):
            return record
        record.status, record.progress = Status.PROCESSING, 0.0
        self.results.put(record)
        last_update = [0.0]

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if now - last_update[0] > 0.25:
                last_update[0] = now
                record.progress = round(done / max(total, 1) * 0.8, 3)  # the last 20 % is scoring
                self.results.put(record)

        source_key = record.source.get("key", "")
        try:
            with self.media.local_copy(source_key) as path:
                analysis = self._detector.analyze(path, display_path=record.path, progress=progress)
        except KeyError:
            analysis = Analysis(DetectionResult.failed(
                record.path, ErrorCode.NOT_FOUND, "the uploaded file is gone"
            ))
        result = analysis.result
        result.id, result.created_at, result.source = record.id, record.created_at, record.source
        result.progress = None
        evidence = encode_evidence(analysis)
        if evidence is not None:
            data, scale = evidence
            self.media.put(evidence_key(result.id), data, "image/jpeg")
            result.source["evidence_key"] = evidence_key(result.id)
            result.source["evidence_scale"] = f"{scale:.6f}"
        self.results.put(result)
        log.info("scanned %s: %s", result.path, result.verdict)
        return result

