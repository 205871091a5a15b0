"""Shared fixtures (used by every test folder; keep their names and meaning stable).

Session-scoped, built once:
- ``shared_data``: ``Settings.shared_dir / "data"`` (real face photos and videos); tests that
  need it are skipped with a reason when the shared folder is absent.
- ``face_photo`` / ``couple_photo`` / ``real_video``: real files from it (1 face, 2 faces, an mp4).
- ``detector_model``: path of the verified YuNet model (``models/``, else copied from the shared
  folder into a temp dir; never downloaded by tests).
- ``tiny_model_dir``: a temp folder holding ``tiny.onnx`` + ``tiny.json`` (tests/support/tiny_model.py)
  and a link to the detector model: a complete ``models_dir`` for ``Settings``.
- ``base_settings``: ``Settings`` on that models dir with the tiny classifier (``TINY_MODEL``),
  8 sampled frames per video (not 32: faster), 1 ONNX Runtime thread; no env file read.
- ``detector``: one ``ScanPipeline`` over ``base_settings`` (loading models per test is slow). It is
  stateful only inside OpenCV: use it from the test's thread, never mutate its settings.

Function-scoped:
- ``settings``: ``base_settings`` with ``data_dir`` in the test's tmp_path (own media and SQLite).
- ``settings_env``: the same settings exported as ``DEEPFAKE_*`` variables (for ``get_settings()``,
  in-process CLI runs and subprocesses); returns the environment dict to pass to a subprocess.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from deepfake_detect.core.pipeline import ScanPipeline
from deepfake_detect.model_files import YUNET_FILE, YUNET_SHA256
from deepfake_detect.settings import Settings, VideoSettings, as_environment, get_settings
from tests.support.tiny_model import build_tiny_classifier

TINY_MODEL = "tiny.onnx"


def _default_settings() -> Settings:
    return Settings(_env_file=None)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    data = _default_settings().shared_dir / "data"
    if not data.is_dir():
        pytest.skip(f"shared data folder {data} is absent (set DEEPFAKE_SHARED_DIR)")
    return data


@pytest.fixture(scope="session")
def face_photo(shared_data: Path) -> Path:
    """A 400x400 photo with exactly one large frontal face."""
    return shared_data / "deepface_photos" / "img25.jpg"


@pytest.fixture(scope="session")
def couple_photo(shared_data: Path) -> Path:
    """A 2280x1588 photo with exactly two faces."""
    return shared_data / "deepface_photos" / "couple.jpg"


@pytest.fixture(scope="session")
def real_video(shared_data: Path) -> Path:
    """A real 720p FaceForensics++ clip with one person talking."""
    return shared_data / "ffpp_c23" / "real_004.mp4"


@pytest.fixture(scope="session")
def detector_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from deepfake_detect.core.hashing import file_sha256
    from deepfake_detect.model_files import ensure_detector_model

    settings = _default_settings()
    if settings.detector_path.is_file() and file_sha256(settings.detector_path) == YUNET_SHA256:
        return settings.detector_path
    staging = settings.model_copy(update={"models_dir": tmp_path_factory.mktemp("detector")})
    try:
        return ensure_detector_model(staging, allow_download=False)
    except FileNotFoundError:
        pytest.skip("no face-detector model: run `make models`")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory, detector_model: Path) -> Path:
    directory = tmp_path_factory.mktemp("models")
    build_tiny_classifier(directory)
    (directory / YUNET_FILE).symlink_to(detector_model)
    return directory


@pytest.fixture(scope="session")
def base_settings(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    defaults = _default_settings()
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        shared_dir=defaults.shared_dir,
        models_dir=tiny_model_dir,
        detector_model=YUNET_FILE,
        classifier_model=TINY_MODEL,
        data_dir=tmp_path_factory.mktemp("var"),
        video=VideoSettings(sample_frames=8),
        intra_op_threads=1,
    )


@pytest.fixture(scope="session")
def detector(base_settings: Settings) -> ScanPipeline:
    return ScanPipeline(base_settings.pipeline())


@pytest.fixture
def settings(base_settings: Settings, tmp_path: Path) -> Settings:
    return base_settings.model_copy(update={"data_dir": tmp_path / "var"})


def settings_as_env(settings: Settings) -> dict[str, str]:
    names = (
        "shared_dir",
        "models_dir",
        "detector_model",
        "classifier_model",
        "data_dir",
        "video.sample_frames",
        "intra_op_threads",
    )
    return as_environment(settings, names)


@pytest.fixture
def settings_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    variables = settings_as_env(settings)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield {**os.environ, **variables}
    get_settings.cache_clear()
