"""The port of a service that scans in-process: the scan queue the API hands uploads to
(``Processor``, implemented by ``local.worker.LocalProcessor``) and its refusal when full.

It lives below both the API and the workers: the API only calls it, a worker only implements it.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any, Protocol

from deepfake_detect.core.result import DetectionResult, MediaKind


class QueueFullError(Exception):
    """The scan queue for this kind of media is full: the client should retry later (429)."""

    def __init__(self, kind: MediaKind, waiting: int, retry_after_s: int) -> None:
        super().__init__(f"{waiting} {kind.value} scans are already waiting; try again later")
        self.kind = kind
        self.waiting = waiting
        self.retry_after_s = retry_after_s


class Processor(Protocol):
    """The local service scans in-process (``local.worker.LocalProcessor``); the cloud API has none
    and never imports the scanning stack (OpenCV, ONNX Runtime)."""

    def start(self) -> Any: ...

    def shutdown(self) -> None: ...

    def check_room(self, kind: MediaKind) -> None:
        """Raises ``QueueFullError`` when a scan of this kind would not be queued now."""
        ...

    def precheck(self, record: DetectionResult) -> DetectionResult | None: ...

    def submit(self, result_id: str, *, bounded: bool = False) -> Future[DetectionResult | None]:
        """Queue the record's scan; ``bounded`` raises ``QueueFullError`` instead of queueing past the
        queue's size (uploads are bounded; work resumed after a restart is not)."""
        ...

    def discard(self, record: DetectionResult) -> None:
        """Forget an upload that was refused before it was queued: its file and its record."""
        ...
