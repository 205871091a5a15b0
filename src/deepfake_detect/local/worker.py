"""Runs the detector for the local service, in two lanes: one worker thread scans images, another
videos, so an image is never queued behind a video (each lane owns its detector: OpenCV's is not
thread-safe). The video lane loads its models on its first video.

Uploads are queued here, at most ``settings.service.queue_size`` waiting per lane (a fuller lane
refuses with ``QueueFullError``: 429); images are awaited by the request, videos finish in the
background. Records still ``queued`` or ``processing`` when the service stopped are picked up on
start, so no upload is lost to a restart, and every start of a scan is counted in the result store:
a file that kills the process mid-scan is failed (``internal_error``) after
``settings.service.max_attempts`` starts instead of being retried on every start forever.

A file that failed for what it is (corrupt, too large, unsupported: ``core.errors.CLIENT_ERRORS``) is
deleted, its failed record kept; the file of a scan that failed for our own reasons is kept.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol, runtime_checkable

from deepfake_detect.core.errors import CLIENT_ERRORS, STORAGE_MESSAGES, ErrorCode, MediaError, storage_fault
from deepfake_detect.core.media.checks import probe_file
from deepfake_detect.core.media.video import open_video
from deepfake_detect.core.pipeline import Analysis, ScanPipeline
from deepfake_detect.core.result import DetectionResult, MediaKind, Status
from deepfake_detect.local.detector import local_live_detector
from deepfake_detect.settings import Settings
from deepfake_detect.store.base import (
    DeletableMediaStore,
    MediaStore,
    ObjectNotFoundError,
    ResultDeletedError,
    ResultStore,
)
from deepfake_detect.store.deletion import purge_media
from deepfake_detect.store.events import CompletionPublisher
from deepfake_detect.store.evidence import finish
from deepfake_detect.store.queue import QueueFullError
from deepfake_detect.store.records import failed_result

log = logging.getLogger(__name__)

# Builds a lane's detector: (settings, lane name: "image" or "video").
DetectorFactory = Callable[[Settings, str], ScanPipeline]


@runtime_checkable
class AttemptLog(Protocol):
    """Counts the starts of each unfinished scan where a crash cannot lose them
    (``SQLiteResultStore`` keeps them next to the records)."""

    def begin_attempt(self, result_id: str) -> int: ...

    def end_attempts(self, result_id: str) -> None: ...


@runtime_checkable
class _Deletable(Protocol):
    def delete(self, key: str, /) -> None: ...


class _MemoryAttempts:
    """The fallback for a result store that keeps no counts: not restart-safe."""

    def __init__(self) -> None:
        self._started: dict[str, int] = {}
        self._lock = threading.Lock()

    def begin_attempt(self, result_id: str) -> int:
        with self._lock:
            self._started[result_id] = self._started.get(result_id, 0) + 1
            return self._started[result_id]

    def end_attempts(self, result_id: str) -> None:
        with self._lock:
            self._started.pop(result_id, None)


class _Lane:
    """One worker thread, its detector and its count of scans waiting to start."""

    def __init__(self, kind: MediaKind, detector: ScanPipeline | None, scan_lock: threading.Lock) -> None:
        self.kind = kind
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"detector-{kind.value}")
        self.detector = detector
        self.scan_lock = scan_lock  # shared by lanes that share one injected detector
        self.loaded: Future[ScanPipeline] | None = None
        self.waiting = 0


class LocalProcessor:
    """The local service's scanner: an image lane and a video lane, each one thread that owns its
    ``ScanPipeline``.

    ``detector`` (tests) is used by both lanes unless ``video_detector`` is given; a shared
    detector is used by one lane at a time, so then an image can wait for a running video scan.
    Without either, each lane loads its own with ``load_detector`` (settings, lane name) on its
    thread: by default the local registry's live model (``local.detector.local_live_detector``).
    """

    def __init__(
        self,
        settings: Settings,
        media: MediaStore,
        results: ResultStore,
        detector: ScanPipeline | None = None,
        *,
        video_detector: ScanPipeline | None = None,
        attempts: AttemptLog | None = None,
        events: CompletionPublisher | None = None,
        load_detector: DetectorFactory = local_live_detector,
    ) -> None:
        self.settings = settings
        self.load_detector = load_detector
        self.events = events  # completion events (local/webhooks.py): told of every done or failed result
        self.media = media
        self.results = results
        if attempts is None:
            attempts = results if isinstance(results, AttemptLog) else _MemoryAttempts()
        self.attempts = attempts
        image_lock = threading.Lock()
        video_lock = image_lock if video_detector is None and detector is not None else threading.Lock()
        self._lanes = {
            MediaKind.IMAGE: _Lane(MediaKind.IMAGE, detector, image_lock),
            MediaKind.VIDEO: _Lane(MediaKind.VIDEO, video_detector or detector, video_lock),
        }
        self._lock = threading.Lock()

    def start(self) -> Future[ScanPipeline]:
        """Load the image lane's models and resume work left unfinished by a restart (which is
        queued whatever the queue's size: it was accepted before)."""
        loaded = self._ensure_loading(self._lanes[MediaKind.IMAGE])
        for record in self.results.pending():
            self._enqueue(self._lane_for(record.media_kind), record.id)
        return loaded

    def _lane_for(self, kind: MediaKind) -> _Lane:
        return self._lanes[MediaKind.VIDEO if kind is MediaKind.VIDEO else MediaKind.IMAGE]

    def _ensure_loading(self, lane: _Lane) -> Future[ScanPipeline]:
        """The lane's model load, queued once and always ahead of any scan on it (the worker
        never waits on work queued behind it)."""
        with self._lock:
            if lane.loaded is None:
                if lane.detector is not None:
                    ready: Future[ScanPipeline] = Future()
                    ready.set_result(lane.detector)
                    lane.loaded = ready
                else:
                    lane.loaded = lane.executor.submit(self.load_detector, self.settings, lane.kind.value)
            return lane.loaded

    @property
    def detector(self) -> ScanPipeline:
        """The image lane's loaded detector (raises what the load raised). Waits for the load
        only, not for the scans queued after it; only a lane's thread may call ``analyze``."""
        return self._ensure_loading(self._lanes[MediaKind.IMAGE]).result()

    def check_room(self, kind: MediaKind) -> None:
        lane = self._lane_for(kind)
        with self._lock:
            self._check_room(lane)

    def _check_room(self, lane: _Lane) -> None:
        service = self.settings.service
        if lane.waiting >= service.queue_size:
            raise QueueFullError(lane.kind, lane.waiting, service.retry_after_s)

    def submit(self, result_id: str, *, bounded: bool = False) -> Future[DetectionResult | None]:
        record = self.results.get(result_id)
        lane = self._lane_for(record.media_kind if record is not None else MediaKind.IMAGE)
        return self._enqueue(lane, result_id, bounded=bounded)

    def _enqueue(
        self, lane: _Lane, result_id: str, *, bounded: bool = False
    ) -> Future[DetectionResult | None]:
        self._ensure_loading(lane)
        with self._lock:
            if bounded:
                self._check_room(lane)
            lane.waiting += 1
        try:
            return lane.executor.submit(self._run, lane, result_id)
        except BaseException:  # shut down: the record stays queued for the next start
            with self._lock:
                lane.waiting -= 1
            raise

    def _run(self, lane: _Lane, result_id: str) -> DetectionResult | None:
        with self._lock:
            lane.waiting -= 1
        return self._process(lane, result_id)

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every scan queued so far (on both lanes) has finished."""
        markers = [lane.executor.submit(lambda: None) for lane in self._lanes.values()]
        for marker in markers:
            marker.result(timeout)

    def shutdown(self) -> None:
        # A scan cut short stays ``processing`` in the store and is resumed by the next start().
        for lane in self._lanes.values():
            lane.executor.shutdown(wait=False, cancel_futures=True)
        close = getattr(self.events, "close", None)
        if close is not None:
            close()

    def discard(self, record: DetectionResult) -> None:
        """Forget an upload refused before it was queued (the queue was full, the request
        failed): its file and its record, each as far as the storage allows (a file left by a
        read-only disk is swept later as an orphan). Never raises."""
        try:
            self._delete_media(record)
        except Exception as exc:
            self._log_discard_failure(record, "file", exc)
        try:
            if isinstance(self.results, _Deletable) and self.results.get(record.id) is not None:
                self.results.delete(record.id)
        except Exception as exc:
            self._log_discard_failure(record, "record", exc)

    @staticmethod
    def _log_discard_failure(record: DetectionResult, what: str, exc: Exception) -> None:
        if storage_fault(exc) is not None:  # the fault the request already answers with
            log.warning("could not discard the %s of the refused upload %s: %r", what, record.id, exc)
        else:
            log.exception("could not discard the %s of the refused upload %s", what, record.id)

    def _delete_media(self, record: DetectionResult) -> None:
        key = record.source.get("key")
        if key and isinstance(self.media, _Deletable):
            self.media.delete(key)

    def precheck(self, record: DetectionResult) -> DetectionResult | None:
        """Refuse an upload that cannot be scanned, cheaply and before it is queued.

        Reads only headers (type, size, a video's dimensions and length), so the client hears
        about a truncated or oversized video now rather than after polling. Returns the stored
        failed record (its file is deleted: it will never be scanned), or None when the file
        looks scannable. Safe to call from any thread.
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
            failed = failed_result(record, exc.code, exc.message)
        except (ObjectNotFoundError, ValueError):
            failed = failed_result(record, ErrorCode.NOT_FOUND, "the uploaded file is gone")
        else:
            return None
        self.results.put(failed)
        self._announce(failed)
        try:
            self._delete_media(record)
        except Exception:
            log.exception("could not delete the refused upload %s", record.id)
        return failed

    def _process(self, lane: _Lane, result_id: str) -> DetectionResult | None:
        record = self.results.get(result_id)
        if record is None or record.status in (Status.DONE, Status.FAILED):
            return record
        try:
            started = self.attempts.begin_attempt(result_id)
        except Exception as exc:  # the count cannot be written: the disk is full or read-only
            code = storage_fault(exc)
            if code is None:
                raise
            return self._fail(record, code, STORAGE_MESSAGES[code])
        limit = self.settings.service.max_attempts
        if started > limit:
            log.error("%s was started %d times without finishing; failing it", record.path, started - 1)
            return self._fail(
                record,
                ErrorCode.INTERNAL_ERROR,
                f"the scan was started {started - 1} times and never finished (the file may crash "
                "the scanner); it is not retried",
            )
        try:
            detector = self._ensure_loading(lane).result()  # already done: the load runs first
        except Exception as exc:
            log.exception("cannot load the models")
            return self._fail(
                record, ErrorCode.MODEL_ERROR, f"the models could not be loaded: {type(exc).__name__}: {exc}"
            )
        try:
            with lane.scan_lock:
                result = self._scan(detector, record)
        except ResultDeletedError:  # deleted while it was scanned: nothing of it is kept
            self._purge(record)
            return None
        except Exception as exc:  # a store or encoder failure: the record must not stay "processing"
            log.exception("scan of %s failed", record.path)
            code = storage_fault(exc)
            if code is not None:  # a full or read-only disk: said as such, the file is kept
                return self._fail(record, code, STORAGE_MESSAGES[code])
            return self._fail(record, ErrorCode.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
        # The result is stored: what follows is clean-up, and its failure never turns the stored
        # result into a failure (a full disk here must not answer a done scan with 500).
        if result.error is not None and result.error.code in CLIENT_ERRORS:
            try:
                self._delete_media(record)  # never scanned again; an internal error's file is kept
            except Exception:
                log.exception("could not delete the refused file of %s", record.id)
        return self._finished(result)

    def _purge(self, record: DetectionResult) -> None:
        """Remove what a scan of a deleted record wrote (never raises: the deletion answered)."""
        if isinstance(self.media, DeletableMediaStore):
            try:
                purge_media(self.media, record)
            except Exception:
                log.exception("could not remove the files of the deleted result %s", record.id)

    def _finished(self, result: DetectionResult) -> DetectionResult:
        """The stored result's last steps; neither fails it (a count left behind is forgotten
        with the record, and a finished record is never scanned again)."""
        try:
            self.attempts.end_attempts(result.id)
        except Exception:
            log.exception("could not clear the attempt count of %s", result.id)
        self._announce(result)
        return result

    def _announce(self, result: DetectionResult) -> None:
        """The completion event of a stored result: queued by the publisher, never failing the scan."""
        if self.events is not None:
            try:
                self.events.publish(result)
            except Exception:
                log.exception("could not queue the completion event of %s", result.id)

    def _fail(self, record: DetectionResult, code: ErrorCode, message: str) -> DetectionResult | None:
        """Store the record as failed; None when it was deleted meanwhile (its files are removed).
        A store that cannot be written raises: the record stays unfinished and is resumed on the
        next start (``max_attempts`` bounds the retries)."""
        failed = failed_result(record, code, message)
        try:
            self.results.put(failed)
        except ResultDeletedError:
            self._purge(record)
            return None
        return self._finished(failed)

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
                analysis = detector.analyze(path, display_path=record.path, progress=progress, pictures=True)
        except (ObjectNotFoundError, ValueError):
            analysis = Analysis(failed_result(record, ErrorCode.NOT_FOUND, "the uploaded file is gone"))
        result = finish(record, analysis, self.media, self.results)
        log.info("scanned %s: %s", result.path, result.verdict)
        return result
