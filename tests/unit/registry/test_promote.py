"""Gate-and-promote, baseline adoption and rollback on the local registry (stubbed evaluation)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from deepfake_detect.core.model_card import ModelCard
from deepfake_detect.local.registry import LocalModelRegistry
from deepfake_detect.registry.base import ModelPointer, ModelRecord, ModelStatus, RegistryError
from deepfake_detect.registry.promote import adopt_baseline, gate_and_promote, rollback
from tests.support.retrain import build_cast_classifier
from tests.support.tiny_model import build_tiny_classifier
from tests.unit.registry.conftest import StubEvaluator


def candidate(tmp_path: Path, name: str, seed: int) -> Path:
    path = build_tiny_classifier(tmp_path / name, seed=seed)
    final = path.with_name("deepfake_classifier.onnx")
    path.rename(final)
    path.with_suffix(".json").rename(final.with_suffix(".json"))
    return final


def record(version: str) -> ModelRecord:
    return ModelRecord(version=version, status=ModelStatus.TRAINING, job_name=f"job-{version}")


@pytest.fixture
def baseline(tmp_path: Path, registry: LocalModelRegistry, evaluator: StubEvaluator) -> Path:
    path = build_cast_classifier(tmp_path / "shipped", version="1.0")
    evaluator.set(path, auc=0.90, fpr=0.05)
    assert adopt_baseline(registry, path).version == "1.0"
    return path


def test_baseline_is_published_and_current(registry: LocalModelRegistry, baseline: Path) -> None:
    current = registry.current()
    assert current == ModelPointer.for_version("1.0", current.sha256 if current else "")
    assert (registry.root / "models/1.0/deepfake_classifier.onnx").read_bytes() == baseline.read_bytes()
    assert registry.get_record("1.0").status is ModelStatus.BASELINE  # type: ignore[union-attr]
    assert adopt_baseline(registry, baseline).version == "1.0"  # idempotent


def test_better_candidate_is_promoted(
    tmp_path: Path, registry: LocalModelRegistry, baseline: Path, evaluator: StubEvaluator
) -> None:
    path = candidate(tmp_path, "c", seed=1)
    evaluator.set(path, auc=0.93, fpr=0.04)
    done = gate_and_promote(registry, record("2.0"), path, evaluator)
    assert done.status is ModelStatus.PROMOTED and done.promoted_at is not None
    assert done.decision is not None and done.decision.current_version == "1.0"
    assert done.decision.current is not None and done.decision.current.auc == 0.90
    assert done.decision.candidate is not None and done.decision.candidate.auc == 0.93
    current = registry.current()
    assert current is not None and current.version == "2.0"
    # The published card names the registry's version, so results name it too.
    published = registry.root / current.card_key
    assert ModelCard.load(published).version == "2.0"
    assert stat.S_IMODE((registry.root / current.onnx_key).stat().st_mode) == 0o444
    assert registry.get_record("2.0") == done


def test_worse_candidate_is_rejected_and_recorded(
    tmp_path: Path, registry: LocalModelRegistry, baseline: Path, evaluator: StubEvaluator
) -> None:
    path = candidate(tmp_path, "c", seed=1)
    evaluator.set(path, auc=0.95, fpr=0.06)  # better AUC, but more false positives
    done = gate_and_promote(registry, record("2.0"), path, evaluator)
    assert done.status is ModelStatus.REJECTED
    assert done.decision is not None and "false positive rate" in done.decision.reasons[0]
    assert registry.current().version == "1.0"  # type: ignore[union-attr]
    assert not (registry.root / "models/2.0").exists()
    assert registry.get_record("2.0").status is ModelStatus.REJECTED  # type: ignore[union-attr]


def test_corrupt_candidate_is_rejected_without_evaluation(
    tmp_path: Path, registry: LocalModelRegistry, baseline: Path, evaluator: StubEvaluator
) -> None:
    path = candidate(tmp_path, "c", seed=1)
    path.write_bytes(b"garbage")
    done = gate_and_promote(registry, record("2.0"), path, evaluator)
    assert done.status is ModelStatus.REJECTED
    assert done.decision is not None and "sha256" in done.decision.reasons[0]
    assert evaluator.evaluated == []
    assert registry.current().version == "1.0"  # type: ignore[union-attr]


def test_published_versions_are_immutable(
    tmp_path: Path, registry: LocalModelRegistry, baseline: Path
) -> None:
    other = candidate(tmp_path, "c", seed=1)
    with pytest.raises(RegistryError, match="already published"):
        registry.publish("1.0", other, other.with_suffix(".json"))
    with pytest.raises(RegistryError, match="not published"):
        registry.set_current(ModelPointer.for_version("9.9"))


def test_rollback_goes_back_one_promotion_at_a_time(
    tmp_path: Path, registry: LocalModelRegistry, baseline: Path, evaluator: StubEvaluator
) -> None:
    for version, seed, auc in (("2.0", 1, 0.91), ("3.0", 2, 0.92)):
        path = candidate(tmp_path, version, seed=seed)
        evaluator.set(path, auc=auc, fpr=0.05)
        assert gate_and_promote(registry, record(version), path, evaluator).status is ModelStatus.PROMOTED
    previous, now = rollback(registry)
    assert (previous.version, now.version) == ("3.0", "2.0")
    assert registry.get_record("3.0").status is ModelStatus.ROLLED_BACK  # type: ignore[union-attr]
    assert rollback(registry)[1].version == "1.0"
    with pytest.raises(RegistryError, match="nothing to roll back"):
        rollback(registry)
    # Forward again to a named version.
    assert rollback(registry, "3.0")[1].version == "3.0"
    assert registry.get_record("3.0").status is ModelStatus.PROMOTED  # type: ignore[union-attr]


def test_rollback_refuses_rejected_and_unknown_versions(
    tmp_path: Path, registry: LocalModelRegistry, baseline: Path, evaluator: StubEvaluator
) -> None:
    path = candidate(tmp_path, "c", seed=1)
    evaluator.set(path, auc=0.5, fpr=0.5)
    gate_and_promote(registry, record("2.0"), path, evaluator)
    with pytest.raises(RegistryError, match="never promoted"):
        rollback(registry, "2.0")
    with pytest.raises(RegistryError, match="no model version"):
        rollback(registry, "8.8")
    with pytest.raises(RegistryError, match="already the current"):
        rollback(registry, "1.0")


def test_rollback_without_a_model(registry: LocalModelRegistry) -> None:
    with pytest.raises(RegistryError, match="no current model"):
        rollback(registry)
