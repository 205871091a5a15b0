"""Builds the AWS environment's objects from settings, in one place."""

from __future__ import annotations

import tempfile
from pathlib import Path

from deepfake_detect.aws.registry import AwsModelRegistry
from deepfake_detect.core.pipeline import ScanPipeline
from deepfake_detect.registry.live import LivePipeline
from deepfake_detect.settings import Settings


def live_detector(settings: Settings) -> ScanPipeline:
    """The detect function's detector: the baked-in models, kept on the SSM pointer's model.
    Without a model parameter (a deployment with no registry) it is the plain detector."""
    if not settings.aws.model_parameter:
        return ScanPipeline(settings.pipeline())
    return LivePipeline(
        settings.pipeline(),
        AwsModelRegistry.from_settings(settings),
        Path(tempfile.gettempdir()) / "live-model",
        interval_s=settings.model_refresh_s,
    )
