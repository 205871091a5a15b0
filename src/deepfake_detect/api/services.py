"""What the API needs from the outside world, wired once per process."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

from deepfake_detect.core.model_card import ModelCard
from deepfake_detect.core.result import DetectionResult
from deepfake_detect.registry.feedback import FeedbackStore
from deepfake_detect.settings import Settings
from deepfake_detect.store.base import MediaStore, ResultStore


class Processor(Protocol):
    """The local service scans in-process (``local.worker.LocalProcessor``); the cloud API has none
    and never imports the scanning stack (OpenCV, ONNX Runtime)."""

    def start(self) -> Any: ...

    def shutdown(self) -> None: ...

    def precheck(self, record: DetectionResult) -> DetectionResult | None: ...

    def submit(self, result_id: str) -> Future[DetectionResult | None]: ...


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
