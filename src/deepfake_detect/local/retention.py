"""Retention of the local store, like the bucket's lifecycle and the table's TTL in the cloud:
results older than ``result_retention_days`` are deleted with their files (the upload, the evidence
image, a reviewer's label and its training copy), when the service starts and then every
``service.retention_interval_s``. Records still queued or processing are left to their scan.

Each sweep also removes orphaned uploads (``local/storage.py``: ``uploads/<id>/`` folders without a
record, older than ``service.orphan_grace_s``) and forgets the marks of records deleted more than a
day ago (``SQLiteResultStore`` keeps them so that a scan still running cannot write a deleted record back).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from deepfake_detect.local.storage import sweep_orphans
from deepfake_detect.local.stores import SQLiteResultStore
from deepfake_detect.settings import Settings
from deepfake_detect.store.deletion import ResultDeleter, expire

log = logging.getLogger(__name__)

# A scan lasts minutes at most: a day later no scan of a deleted record can still be running.
DELETION_MARKS_KEPT = timedelta(days=1)


class RetentionSweeper:
    def __init__(
        self,
        settings: Settings,
        deleter: ResultDeleter,
        results: SQLiteResultStore,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        media_root: Path | None = None,
    ) -> None:
        self.days = settings.result_retention_days
        self.media_root = media_root  # where orphaned uploads are looked for (None: not swept)
        self.orphan_grace_s = settings.service.orphan_grace_s
        self.interval_s = settings.service.retention_interval_s
        self.deleter = deleter
        self.results = results
        self.now = now
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep(self) -> int:
        """Delete what is past retention now; returns how many results were deleted."""
        now = self.now()
        deleted = 0
        if self.days is not None:
            deleted = expire(self.deleter, self.results.finished_before, now - timedelta(days=self.days))
            if deleted:
                log.info("deleted %d results older than %s days", deleted, self.days)
        if self.media_root is not None:
            orphans = sweep_orphans(
                self.media_root, self.results, self.orphan_grace_s, now=lambda: now.timestamp()
            )
            if orphans:
                log.info("removed %d orphaned uploads", orphans)
        self.results.forget_deleted(now - DELETION_MARKS_KEPT)
        return deleted

    def start(self) -> None:
        """Sweep now and then periodically, in a background thread (the service starts at once)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sweep()
            except Exception:  # a locked database, a full disk: try again next time
                log.exception("the retention sweep failed")
            self._stop.wait(self.interval_s)
