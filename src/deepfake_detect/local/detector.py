"""The local detector: the model the local registry serves (``retrain`` and ``rollback`` move it),
the shipped model until something was promoted there."""

from __future__ import annotations

from deepfake_detect.core.pipeline import ScanPipeline
from deepfake_detect.local.registry import LocalModelRegistry
from deepfake_detect.registry.live import LivePipeline
from deepfake_detect.settings import Settings


def local_live_detector(settings: Settings, lane: str = "") -> ScanPipeline:
    """The local service's and CLI's detector: follows ``retrain`` and ``rollback`` in the local
    registry; the shipped model until something was promoted there. Each of the service's lanes
    (``lane``: "image", "video") keeps its download of a promoted model in its own folder."""
    registry = LocalModelRegistry(settings.registry_path)
    cache = settings.registry_path / (f".live-{lane}" if lane else ".live")
    return LivePipeline(settings.pipeline(), registry, cache, interval_s=settings.model_refresh_s)
