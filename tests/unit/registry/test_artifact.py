"""The candidate's soundness checks: corrupt or wrongly shaped models never reach the comparison."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from deepfake_detect.core.hashing import file_sha256
from deepfake_detect.core.model_card import ModelCard, Outputs, Preprocessing
from deepfake_detect.registry.gate import ArtifactError, find_model, unpack_artifact, validate_artifact
from tests.support.retrain import build_cast_classifier, model_tarball
from tests.support.tiny_model import build_tiny_classifier


def _edit_card(onnx_path: Path, **changes: object) -> None:
    card = ModelCard.load(onnx_path.with_suffix(".json"))
    card.model_copy(update=changes).save(onnx_path.with_suffix(".json"))


def test_sound_model_passes(tmp_path: Path) -> None:
    card = validate_artifact(build_cast_classifier(tmp_path, version="7"))
    assert card.version == "7" and card.outputs.logit == "logit"


def test_corrupt_file_is_rejected(tmp_path: Path) -> None:
    path = build_tiny_classifier(tmp_path)
    path.write_bytes(b"\x08\x07not an onnx model" * 50)
    _edit_card(path, sha256=file_sha256(path))  # the card matches: only the load can catch it
    with pytest.raises(ArtifactError, match="cannot load"):
        validate_artifact(path)


def test_file_that_is_not_the_cards_is_rejected(tmp_path: Path) -> None:
    path = build_tiny_classifier(tmp_path)
    _edit_card(path, sha256="0" * 64)
    with pytest.raises(ArtifactError, match="sha256"):
        validate_artifact(path)


def test_input_size_other_than_the_cards_is_rejected(tmp_path: Path) -> None:
    path = build_tiny_classifier(tmp_path, input_size=32)
    _edit_card(path, preprocessing=Preprocessing(input_size=64, margin=0.2))
    with pytest.raises(ArtifactError, match=r"\[N, 3, 64, 64\]"):
        validate_artifact(path)


def test_missing_output_is_rejected(tmp_path: Path) -> None:
    path = build_tiny_classifier(tmp_path)
    _edit_card(path, outputs=Outputs(logit="score", cam="cam"))
    with pytest.raises(ArtifactError, match="no output"):
        validate_artifact(path)


def test_missing_card_is_rejected(tmp_path: Path) -> None:
    path = build_tiny_classifier(tmp_path)
    path.with_suffix(".json").unlink()
    with pytest.raises(ArtifactError, match="card"):
        validate_artifact(path)


def test_sagemaker_tarball_unpacks_to_the_model(tmp_path: Path) -> None:
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(model_tarball(build_cast_classifier(tmp_path / "src", version="3")))
    path = unpack_artifact(archive, tmp_path / "out")
    assert path == tmp_path / "out" / "deepfake_classifier.onnx"
    assert validate_artifact(path).version == "3"


def test_tarball_escaping_its_folder_is_rejected(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("../evil.onnx")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(buffer.getvalue())
    with pytest.raises(ArtifactError):
        unpack_artifact(archive, tmp_path / "out")
    assert not (tmp_path / "evil.onnx").exists()


def test_not_a_tarball_is_rejected(tmp_path: Path) -> None:
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(b"truncated")
    with pytest.raises(ArtifactError, match="tar"):
        unpack_artifact(archive, tmp_path / "out")


def test_folder_without_a_model_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no model here")
    with pytest.raises(ArtifactError, match="found 0"):
        find_model(tmp_path)
