"""Builds the local environment's objects from settings, in one place.

``local_live_detector`` (``local/detector.py``) is re-exported: the CLI builds its detector here too.
"""

from __future__ import annotations

from fastapi import FastAPI

from deepfake_detect.api.app import create_app
from deepfake_detect.api.services import Services
from deepfake_detect.local.accuracy import SQLiteReviewedSource
from deepfake_detect.local.detector import local_live_detector as local_live_detector
from deepfake_detect.local.feedback import SQLiteFeedbackStore
from deepfake_detect.local.retention import RetentionSweeper
from deepfake_detect.local.retrain import feedback_channel
from deepfake_detect.local.storage import StorageProbe
from deepfake_detect.local.stores import LocalMediaStore, SQLiteResultStore
from deepfake_detect.local.webhooks import EVENTS_FILE, SQLiteDeliveryLog, webhook_notifier
from deepfake_detect.local.worker import LocalProcessor
from deepfake_detect.registry.feedback import FeedbackStore, channel_media_prefix
from deepfake_detect.settings import Settings
from deepfake_detect.store.deletion import ResultDeleter


def local_services(settings: Settings) -> Services:
    """The embedded default: a media folder and SQLite under ``settings.data_dir``."""
    media = LocalMediaStore(settings.data_dir / "media")
    results = SQLiteResultStore(settings.data_dir / "results.sqlite3")
    notifier = webhook_notifier(settings.service, settings.data_dir)  # None without a webhook URL
    if notifier is not None:
        notifier.start()  # sends what the previous run left pending
    processor = LocalProcessor(settings, media, results, events=notifier, load_detector=local_live_detector)
    feedback = SQLiteFeedbackStore(settings.data_dir / "feedback.sqlite3")
    deliveries = notifier.deliveries if notifier is not None else _existing_deliveries(settings)
    deleter = local_deleter(settings, media, results, feedback, deliveries)
    return Services(
        settings=settings,
        media=media,
        results=results,
        model_card=lambda: processor.detector.classifier.card,
        processor=processor,
        feedback=feedback,
        deleter=deleter,
        # Started with the app: retention and the orphaned-upload sweep, now and periodically.
        background=(RetentionSweeper(settings, deleter, results, media_root=media.root),),
        deliveries=notifier.deliveries if notifier is not None else None,
        accuracy=SQLiteReviewedSource(results.path, settings.data_dir / "feedback.sqlite3"),
        idempotency=results,
        storage_health=StorageProbe(settings.data_dir, settings.service.min_free_bytes),
    )


def local_deleter(
    settings: Settings,
    media: LocalMediaStore,
    results: SQLiteResultStore,
    feedback: FeedbackStore,
    deliveries: SQLiteDeliveryLog | None = None,
) -> ResultDeleter:
    """Deletes a local result: the record, its upload and evidence images, a reviewer's label,
    the copy of the file a retrain exported to the feedback channel and its webhook deliveries."""
    channel = feedback_channel(settings)

    def purge_training_copy(result_id: str) -> None:
        if channel.is_dir():
            LocalMediaStore(channel).delete_prefix(channel_media_prefix(result_id))

    hooks = [feedback.delete, purge_training_copy]
    if deliveries is not None:
        hooks.append(deliveries.delete_result)
    return ResultDeleter(media, results, also=hooks)


def _existing_deliveries(settings: Settings) -> SQLiteDeliveryLog | None:
    """The delivery log a webhook left, when no webhook is set now (its rows still go with a
    deleted result)."""
    path = settings.data_dir / EVENTS_FILE
    return SQLiteDeliveryLog(path) if path.is_file() else None


def local_stores(settings: Settings) -> tuple[LocalMediaStore, SQLiteResultStore, ResultDeleter]:
    """The local stores and their deleter, without the scanner (``deepfake-detect delete``)."""
    media = LocalMediaStore(settings.data_dir / "media")
    results = SQLiteResultStore(settings.data_dir / "results.sqlite3")
    feedback = SQLiteFeedbackStore(settings.data_dir / "feedback.sqlite3")
    return media, results, local_deleter(settings, media, results, feedback, _existing_deliveries(settings))


def local_app(settings: Settings) -> FastAPI:
    """The local service: the API and the page over a media folder, SQLite and the in-process worker."""
    return create_app(settings, local_services, "local")
