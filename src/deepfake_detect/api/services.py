"""What the API needs from the outside world, wired once per process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from deepfake_detect.core.model_card import ModelCard
from deepfake_detect.registry.feedback import FeedbackStore
from deepfake_detect.settings import Settings
from deepfake_detect.store.base import MediaStore, ResultStore

if TYPE_CHECKING:  # the cloud API never scans: it must not import OpenCV and ONNX Runtime
    from deepfake_detect.processing import LocalProcessor


class UploadSigner(Protocol):
    """Cloud uploads: hands the client a presigned POST so the file goes straight to the bucket."""

    def presign(self, filename: str, content_type: str) -> dict[str, Any]: ...


@dataclass
class Services:
    settings: Settings
    media: MediaStore
    results: ResultStore
    model_card: Callable[[], ModelCard]
    processor: LocalProcessor | None = None  # local service: scans in-process
    uploads: UploadSigner | None = None  # cloud: presigned uploads, scanned by the detect function
    feedback: FeedbackStore | None = None  # reviewer labels (POST /v1/results/{id}/feedback)

    @property
    def mode(self) -> str:
        return "local" if self.processor is not None else "cloud"


def local_services(settings: Settings) -> Services:
    """The embedded default: a media folder and SQLite under ``settings.data_dir``."""
    from deepfake_detect.processing import LocalProcessor
    from deepfake_detect.registry.feedback import SQLiteFeedbackStore
    from deepfake_detect.store.local import LocalMediaStore, SQLiteResultStore

    media = LocalMediaStore(settings.data_dir / "media")
    results = SQLiteResultStore(settings.data_dir / "results.sqlite3")
    processor = LocalProcessor(settings, media, results)
    return Services(
        settings=settings,
        media=media,
        results=results,
        model_card=lambda: processor.detector.classifier.card,
        processor=processor,
        feedback=SQLiteFeedbackStore(settings.data_dir / "feedback.sqlite3"),
    )
