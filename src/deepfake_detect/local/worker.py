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

from deepfake_detect.core.errors import ErrorCode, MediaError
from deepfake_detect.core.media import open_video, probe_file
from deepfake_detect.core.pipeline import Analysis, ScanPipeline
from deepfake_detect.core.result import DetectionResult, MediaKind, Status
from deepfake_detect.settings import Settings
from deepfake_detect.store.base import MediaStore, ResultStore
from deepfake_detect.store.evidence import finish

log = logging.getLogger(__name__)


class LocalProcessor:
    """A single worker thread that owns the ``ScanPipeline`` (OpenCV's detector is not thread-safe)."""

    def __init__(
        self,
        settings: Settings,
        media: MediaStore,
        results: ResultStore,
        detector: ScanPipeline | None = None,
    ) -> None:
        self.settings = settings
        self.media = media
        self.results = results
        self._detector = detector
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="detector")
        self._lock = threading.Lock()
        self._loaded: Future[ScanPipeline] | None = None

    def start(self) -> Future[ScanPipeline]:
        """Load the models in the worker thread and resume work left unfinished by a restart."""
        loaded = self._ensure_loading()
        for record in self.results.pending():
            self.submit(record.id)
        return loaded

    def _ensure_loading(self) -> Future[ScanPipeline]:
        """The model load, queued once and always ahead of any scan (the worker never waits on
        work queued behind it)."""
        with self._lock:
            if self._loaded is None:
                if self._detector is not None:
                    ready: Future[ScanPipeline] = Future()
                    ready.set_result(self._detector)
                    self._loaded = ready
                else:
                    from deepfake_detect.local.wiring import local_live_detector  # wiring builds this worker

                    self._loaded = self._executor.submit(local_live_detector, self.settings)
            return self._loaded

    @property
    def detector(self) -> ScanPipeline:
        """The loaded detector (raises what the load raised). Waits for the load only, not for
        the scans queued after it; only the worker thread may call ``analyze`` on it."""
        return self._ensure_loading().result()

    def submit(self, result_id: str) -> Future[DetectionResult | None]:
        self._ensure_loading()
        return self._executor.submit(self._process, result_id)

    def shutdown(self) -> None:
        # A scan cut short stays ``processing`` in the store and is resumed by the next start().
        self._executor.shutdown(wait=False, cancel_futures=True)

    def precheck(self, record: DetectionResult) -> DetectionResult | None:
        """Refuse an upload that cannot be scanned, cheaply and before it is queued.

        Reads only headers (type, size, a video's dimensions and length), so the client hears
        about a truncated or oversized video now rather than after polling. Returns the stored
        failed record, or None when the file looks scannable. Safe to call from any thread.
        """
        settings = self.settings
        try:
            with self.media.local_copy(record.source.get("key", "")) as path:
                kind, _ = probe_file(path, settings.limits.max_file_bytes)
                if kind is MediaKind.VIDEO:
                    capture, _info = open_video(
                        path, settings.limits.max_video_pixels, settings.limits.max_video_seconds
                    )
                    capture.release()
        except MediaError as exc:
            failed = DetectionResult.failed(record.path, exc.code, exc.message, media_kind=record.media_kind)
        except (KeyError, ValueError):
            failed = DetectionResult.failed(record.path, ErrorCode.NOT_FOUND, "the uploaded file is gone")
        else:
            return None
        failed.id, failed.created_at, failed.source = record.id, record.created_at, record.source
        self.results.put(failed)
        return failed

    def _process(self, result_id: str) -> DetectionResult | None:
        record = self.results.get(result_id)
        if record is None or record.status in (Status.DONE, Status.FAILED):
            return record
        try:
            detector = self._ensure_loading().result()  # already done: the load runs first
        except Exception as exc:
            log.exception("cannot load the models")
            return self._fail(
                record, ErrorCode.MODEL_ERROR, f"the models could not be loaded: {type(exc).__name__}: {exc}"
            )
        try:
            return self._scan(detector, record)
        except Exception as exc:  # a store or encoder failure: the record must not stay "processing"
            log.exception("scan of %s failed", record.path)
            return self._fail(record, ErrorCode.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")

    def _fail(self, record: DetectionResult, code: ErrorCode, message: str) -> DetectionResult:
        failed = DetectionResult.failed(record.path, code, message, media_kind=record.media_kind)
        failed.id, failed.created_at, failed.source = record.id, record.created_at, record.source
        self.results.put(failed)
        return failed

    def _scan(self, detector: ScanPipeline, record: DetectionResult) -> DetectionResult:
        record.status, record.progress = Status.PROCESSING, 0.0
        self.results.put(record)
        last_update = [0.0]

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if now - last_update[0] > 0.25:
                last_update[0] = now
                record.progress = round(done / max(total, 1) * 0.8, 3)  # the last 20 % is scoring
                self.results.put(record)

        try:
            with self.media.local_copy(record.source.get("key", "")) as path:
                analysis = detector.analyze(path, display_path=record.path, progress=progress)
        except (KeyError, ValueError):
            analysis = Analysis(
                DetectionResult.failed(
                    record.path,
                    ErrorCode.NOT_FOUND,
                    "the uploaded file is gone",
                    media_kind=record.media_kind,
                )
            )
        result = finish(record, analysis, self.media, self.results)
        log.info("scanned %s: %s", result.path, result.verdict)
        return result
