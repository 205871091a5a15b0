"""``deepfake-detect retrain`` and ``rollback`` against the local registry: the real gate (the
detection pipeline on a small gate set of real photos and synthetic fakes), no training run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deepfake_detect.cli import main
from deepfake_detect.local.registry import LocalModelRegistry
from deepfake_detect.registry.base import ModelStatus
from deepfake_detect.settings import Settings
from tests.support.retrain import build_cast_classifier, build_gate_set


@pytest.fixture
def gate_dir(shared_data: Path, tmp_path: Path) -> Path:
    return build_gate_set(shared_data, tmp_path / "gate")


def test_retrain_promotes_a_good_candidate_and_rollback_restores(
    settings_env: dict[str, str],
    settings: Settings,
    gate_dir: Path,
    tmp_path: Path,
    face_photo: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    good = build_cast_classifier(tmp_path / "good", version="anything").parent
    code = main(["retrain", "--candidate", str(good), "--gate-dir", str(gate_dir), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "promoted: model" in out and "candidate AUC 1.0000" in out
    registry = LocalModelRegistry(settings.registry_path)
    current = registry.current()
    assert current is not None and current.version != "0.0.1"
    assert registry.get_record("0.0.1").status is ModelStatus.BASELINE  # type: ignore[union-attr]
    # `scan` serves the registry's current model.
    main(["scan", "--json", "--no-progress", str(face_photo)])
    assert json.loads(capsys.readouterr().out)["model"]["version"] == current.version

    assert main(["rollback"]) == 0
    assert "rolled back the local registry: " in capsys.readouterr().out
    assert registry.current().version == "0.0.1"  # type: ignore[union-attr]
    main(["scan", "--json", "--no-progress", str(face_photo)])
    assert json.loads(capsys.readouterr().out)["model"]["version"] == "0.0.1"
    assert main(["rollback", "--list"]) == 0
    listing = capsys.readouterr().out.splitlines()
    rows = {line[2:].split()[0]: (line[0], line[2:].split()[1]) for line in listing}
    assert rows == {current.version: (" ", "rolled_back"), "0.0.1": ("*", "baseline")}
    registry.close()


def test_retrain_rejects_a_worse_candidate(
    settings_env: dict[str, str],
    settings: Settings,
    gate_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    worse = build_cast_classifier(tmp_path / "worse", version="x", sign=-1.0).parent
    code = main(["retrain", "--candidate", str(worse), "--gate-dir", str(gate_dir), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 1
    assert "rejected: model" in out and "AUC 0.0000 is lower" in out
    registry = LocalModelRegistry(settings.registry_path)
    assert registry.current().version == "0.0.1"  # type: ignore[union-attr]
    registry.close()


def test_retrain_without_a_gate_set_is_a_usage_error(
    settings_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["retrain", "--gate-dir", str(tmp_path / "none"), "--no-progress"]) == 2
    assert "needs media files in both real/ and fake/" in capsys.readouterr().err


def test_rollback_with_nothing_to_roll_back(
    settings_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rollback"]) == 2
    assert "no current model" in capsys.readouterr().err
