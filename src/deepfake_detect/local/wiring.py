"""Builds the local environment's objects from settings, in one place."""

from __future__ import annotations

from fastapi import FastAPI

from deepfake_detect.api.app import create_app
from deepfake_detect.api.services import Services
from deepfake_detect.core.pipeline import ScanPipeline
from deepfake_detect.local.feedback import SQLiteFeedbackStore
from deepfake_detect.local.registry import LocalModelRegistry
from deepfake_detect.local.stores import LocalMediaStore, SQLiteResultStore
from deepfake_detect.local.worker import LocalProcessor
from deepfake_detect.registry.live import LivePipeline
from deepfake_detect.settings import Settings


def local_live_detector(settings: Settings, lane: str = "") -> ScanPipeline:
    """The local service's and CLI's detector: follows ``retrain`` and ``rollback`` in the local
    registry; the shipped model until something was promoted there. Each of the service's lanes
    (``lane``: "image", "video") keeps its download of a promoted model in its own folder."""
    registry = LocalModelRegistry(settings.registry_path)
    cache = settings.registry_path / (f".live-{lane}" if lane else ".live")
    return LivePipeline(settings.pipeline(), registry, cache, interval_s=settings.model_refresh_s)


def local_services(settings: Settings) -> Services:
    """The embedded default: a media folder and SQLite under ``settings.data_dir``."""
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


def local_app(settings: Settings) -> FastAPI:
    """The local service: the API and the page over a media folder, SQLite and the in-process worker."""
    return create_app(settings, local_services, "local")
