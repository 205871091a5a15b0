"""Training tests read the shared data through Settings.shared_dir and skip only when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepfake_detect.core.constants import DETECTOR_FILE
from deepfake_detect.settings import Settings
from training.manifest import Manifest, SplitSpec, get_manifest


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    shared = Settings().shared_dir
    if not (shared / "data" / "dfdc_faces" / "pairs.csv").is_file():
        pytest.skip(f"shared training data not found at {shared} (set DEEPFAKE_SHARED_DIR)")
    return shared


@pytest.fixture(scope="session")
def detector_path(shared_dir: Path) -> Path:
    return shared_dir / "models" / DETECTOR_FILE


@pytest.fixture(scope="session")
def small_manifest(
    shared_dir: Path, detector_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Manifest:
    """The first 40 images of every source and label, detected, linked and split like the full set."""
    cache = tmp_path_factory.mktemp("small-manifest")
    return get_manifest(shared_dir / "data", cache, detector_path, SplitSpec(), limit_per_source=40)
