"""model_files: the detector model is copied from the shared folder and checked by sha256."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepfake_detect.core.hashing import file_sha256
from deepfake_detect.model_files import YUNET_FILE, YUNET_SHA256, ChecksumError, ensure_detector_model
from deepfake_detect.settings import Settings


def make_settings(tmp_path: Path, shared: Path) -> Settings:
    return Settings(_env_file=None, models_dir=tmp_path / "models", shared_dir=shared)  # type: ignore[call-arg]


def test_copied_from_the_shared_folder_and_verified(tmp_path: Path, detector_model: Path) -> None:
    shared = tmp_path / "shared"
    (shared / "models").mkdir(parents=True)
    (shared / "models" / YUNET_FILE).symlink_to(detector_model)
    path = ensure_detector_model(make_settings(tmp_path, shared), allow_download=False)
    assert path == tmp_path / "models" / YUNET_FILE
    assert file_sha256(path) == YUNET_SHA256
    assert not path.is_symlink()


def test_a_wrong_file_in_place_is_replaced(tmp_path: Path, detector_model: Path) -> None:
    shared = tmp_path / "shared"
    (shared / "models").mkdir(parents=True)
    (shared / "models" / YUNET_FILE).symlink_to(detector_model)
    target = tmp_path / "models" / YUNET_FILE
    target.parent.mkdir()
    target.write_bytes(b"half a download")
    ensure_detector_model(make_settings(tmp_path, shared), allow_download=False)
    assert file_sha256(target) == YUNET_SHA256


def test_a_tampered_source_is_refused_and_nothing_is_installed(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    (shared / "models").mkdir(parents=True)
    (shared / "models" / YUNET_FILE).write_bytes(b"not the model")
    with pytest.raises(ChecksumError, match="sha256"):
        ensure_detector_model(make_settings(tmp_path, shared), allow_download=False)
    assert not (tmp_path / "models" / YUNET_FILE).exists()
    assert list((tmp_path / "models").iterdir()) == []  # no staging leftovers


def test_no_source_and_no_download(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        ensure_detector_model(make_settings(tmp_path, tmp_path / "nowhere"), allow_download=False)
