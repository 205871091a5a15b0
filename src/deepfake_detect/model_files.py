"""Put the face-detector model in place: copied from ``../shared/models`` or downloaded from the
OpenCV model zoo, and in both cases checked against its known sha256."""

from __future__ import annotations

import shutil
import tempfile
import urllib.request
from pathlib import Path

from deepfake_detect.core.constants import DETECTOR_FILE
from deepfake_detect.core.hashing import file_sha256
from deepfake_detect.settings import Settings

YUNET_FILE = DETECTOR_FILE
YUNET_SHA256 = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"
YUNET_URL = "https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/" + YUNET_FILE


class ChecksumError(RuntimeError):
    pass


def ensure_detector_model(settings: Settings, *, allow_download: bool = True) -> Path:
    """The path of a verified detector model, fetching it first if it is missing or wrong."""
    target = settings.models_dir / YUNET_FILE
    if target.is_file() and file_sha256(target) == YUNET_SHA256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    shared = settings.shared_dir / "models" / YUNET_FILE
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        staged = Path(tmp) / YUNET_FILE
        if shared.is_file():
            shutil.copyfile(shared, staged)
            origin = str(shared)
        elif allow_download:
            with urllib.request.urlopen(YUNET_URL, timeout=60) as response, staged.open("wb") as out:
                shutil.copyfileobj(response, out)
            origin = YUNET_URL
        else:
            raise FileNotFoundError(f"{shared} does not exist and downloading is disabled")
        digest = file_sha256(staged)
        if digest != YUNET_SHA256:
            raise ChecksumError(f"{origin} has sha256 {digest}, expected {YUNET_SHA256}")
        staged.replace(target)
    return target
