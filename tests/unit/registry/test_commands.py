"""``deepfake-detect retrain`` and ``rollback`` against the local registry: the real gate (the
detection pipeline on a small gate set of real photos and synthetic fakes), no training run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deepfake_detect.cli import main
from deepfake_detect.local.registry import LocalModelRegistry
from deepfake_detect.registry.base import ModelStatus
from deepfake_detect.settings import Settings, get_settings
from tests.support.retrain import build_cast_classifier, build_gate_set


@pytest.fixture
def gate_dir(shared_data: Path, tmp_path: Path) -> Path:
    return build_gate_set(shared_data, tmp_path / "gate")


@pytest.fixture
def small_gate(settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The test gate set has 5 real and 5 fake files; the default minimum is 20 of each."""
    monkeypatch.setenv("DEEPFAKE_TRAINING_GATE_MIN_PER_CLASS", "5")
    get_settings.cache_clear()


def test_retrain_promotes_a_good_candidate_and_rollback_restores(
    small_gate: None,
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
    assert "promoted: model" in out and "candidate AUC 1.0000  TPR 1.0000  FPR 0.0000" in out
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


def test_retrain_rejects_a_worse_candidate_and_status_shows_the_report(
    small_gate: None,
    settings: Settings,
    gate_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    worse = build_cast_classifier(tmp_path / "worse", version="x", sign=-1.0).parent
    code = main(["retrain", "--candidate", str(worse), "--gate-dir", str(gate_dir), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 1
    assert "rejected: model" in out and "TPR at the card threshold 0.0000 vs 1.0000" in out
    assert "AUC 0.0000 vs 1.0000 for the live model 0.0.1" in out
    registry = LocalModelRegistry(settings.registry_path)
    assert registry.current().version == "0.0.1"  # type: ignore[union-attr]
    [record] = [r for r in registry.records() if r.status is ModelStatus.REJECTED]
    registry.close()
    assert main(["retrain", "status"]) == 0
    status = capsys.readouterr().out
    assert status.startswith(f"current model: 0.0.1\nmodel {record.version}: rejected")
    assert f"gate report for candidate {record.version}: REJECT" in status
    assert "vs live 0.0.1:" in status and "TPR difference -1.0000" in status
    assert (settings.registry_path / "jobs" / record.version / "gate-report.json").is_file()
    assert main(["retrain", "status", "--version", "0.0.1"]) == 0
    assert "model 0.0.1: baseline" in capsys.readouterr().out


def test_retrain_rejects_below_the_minimum_gate_set(
    settings_env: dict[str, str],
    settings: Settings,
    gate_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    good = build_cast_classifier(tmp_path / "good", version="x").parent
    code = main(["retrain", "--candidate", str(good), "--gate-dir", str(gate_dir), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 1
    assert "the gate set has 5 scored real and 5 scored fake files" in out
    assert "the gate needs at least 20 of each" in out


def test_time_gate_projects_the_gate_within_its_budget(
    settings_env: dict[str, str], gate_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["retrain", "time-gate", "--gate-dir", str(gate_dir)]) == 0
    out = capsys.readouterr().out
    assert "images: 10, mean" in out and "the gate (3 models):" in out and "fits" in out


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
