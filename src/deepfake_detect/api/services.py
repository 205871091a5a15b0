"""What the API needs from the outside world, wired once per process."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

from deepfake_detect.core.model_card import ModelCard
from deepfake_detect.core.result import DetectionResult, MediaKind
from deepfake_detect.registry.feedback import FeedbackStore
from deepfake_detect.settings import Settings
from deepfake_detect.store.base import MediaStore, ResultStore


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


class UploadSigner(Protocol):
    """Cloud uploads: hands the client a presigned POST so the file goes straight to the bucket."""

    def presign(self, filename: str, content_type: str) -> dict[str, Any]: ...


@dataclass
class Services:
    settings: Settings
    media: MediaStore
    results: ResultStore
    model_card: Callable[[], ModelCard]
    processor: Processor | None = None  # local service: scans in-process
    uploads: UploadSigner | None = None  # cloud: presigned uploads, scanned by the detect function
    feedback: FeedbackStore | None = None  # reviewer labels (POST /v1/results/{id}/feedback)

    @property
    def mode(self) -> str:
        return "local" if self.processor is not None else "cloud"
