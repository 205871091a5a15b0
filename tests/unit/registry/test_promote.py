"""Gate-and-promote, reconcile, baseline adoption and rollback on the local registry (stubbed scores)."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from deepfake_detect.core.model_card import ModelCard
from deepfake_detect.local.registry import LocalModelRegistry
from deepfake_detect.registry.base import (
    ModelPointer,
    ModelRecord,
    ModelStatus,
    PointerConflictError,
    RegistryError,
)
from deepfake_detect.registry.gate import GatePolicy
from deepfake_detect.registry.promote import (
    adopt_baseline,
    best_promoted,
    gate_and_promote,
    reconcile,
    rollback,
)
from tests.support.gate_scores import POLICY, StubEvaluator, scores
from tests.support.retrain import build_cast_classifier
from tests.support.tiny_model import build_tiny_classifier


def candidate(tmp_path: Path, name: str, seed: int) -> Path:
    path = build_tiny_classifier(tmp_path / name, seed=seed)
    final = path.with_name("deepfake_classifier.onnx")
    path.rename(final)
    path.with_suffix(".json").rename(final.with_suffix(".json"))
    return final


def record(version: str) -> ModelRecord:
    return ModelRecord(version=version, status=ModelStatus.TRAINING, job_name=f"job-{version}")


def promote(
    registry: LocalModelRegistry, evaluator: StubEvaluator, path: Path, version: str, **kwargs: Any
) -> ModelRecord:
    return gate_and_promote(registry, record(version), path, evaluator, policy=kwargs.get("policy", POLICY))


@pytest.fixture
def baseline(tmp_path: Path, registry: LocalModelRegistry, evaluator: StubEvaluator) -> Path:
    path = build_cast_classifier(tmp_path / "shipped", version="1.0")
    evaluator.set(path, scores(caught=40, flagged=1))
    assert adopt_baseline(registry, path).version == "1.0"
    return path


class CrashingRegistry(LocalModelRegistry):
    """The registry of a process that dies right after the PROMOTING record is written."""

    def set_current(self, pointer: ModelPointer, *, expected: str | None) -> None:
        raise SystemExit("the process died before the pointer moved")


def test_baseline_is_published_and_current(registry: LocalModelRegistry, baseline: Path) -> None:
    current = registry.current()
    assert current == ModelPointer.for_version("1.0", current.sha256 if current else "")
    assert (registry.root / "models/1.0/deepfake_classifier.onnx").read_bytes() == baseline.read_bytes()
    assert registry.get_record("1.0").status is ModelStatus.BASELINE  # type: ignore[union-attr]
    assert adopt_baseline(registry, baseline).version == "1.0"  # idempotent


def test_seeding_never_moves_an_existing_pointer(
    tmp_path: Path, registry: LocalModelRegistry, baseline: Path
) -> None:
    other = build_cast_classifier(tmp_path / "newer-image", version="9.0")
    assert adopt_baseline(registry, other).version == "1.0"
    assert registry.current().version == "1.0"  # type: ignore[union-attr]


def test_better_candidate_is_promoted_with_a_report(
    tmp_path: Path, registry: LocalModelRegistry, baseline: Path, evaluator: StubEvaluator
) -> None:
    path = candidate(tmp_path, "c", seed=1)
    evaluator.set(path, scores(caught=48, flagged=1))
    done = promote(registry, evaluator, path, "2.0")
    assert done.status is ModelStatus.PROMOTED and done.promoted_at is not None
    assert done.replaces == "1.0" and done.gate == done.decision.candidate  # type: ignore[union-attr]
    assert done.decision is not None and done.decision.current_version == "1.0"
    assert done.decision.current is not None and done.decision.current.tpr == 0.8
    assert done.decision.candidate is not None and done.decision.candidate.tpr == 0.96
    current = registry.current()
    assert current is not None and current.version == "2.0"
    # The published card names the registry's version, so results name it too.
    assert ModelCard.load(registry.root / current.card_key).version == "2.0"
    assert stat.S_IMODE((registry.root / current.onnx_key).stat().st_mode) == 0o444
    assert registry.get_record("2.0") == done
    # The report lies beside the candidate: JSON with every file's paired scores, and a summary.
    report = json.loads(Path(done.report).read_text())
    assert Path(done.report) == registry.root / "jobs/2.0/gate-report.json"
    assert report["decision"]["promote"] is True and len(report["files"]) == 100
    assert report["files"][0].keys() == {"file", "label", "live", "candidate"}
    assert registry.load_report(done).startswith("gate report for candidate 2.0: PROMOTE")  # type: ignore[union-attr]
    # The baseline's first measurement is kept: it can rank as the best model ever promoted.
    assert registry.get_record("1.0").gate.tpr == 0.8  # type: ignore[union-attr]


def test_worse_candidate_is_rejected_and_recorded(
    tmp_path: Path, registry: LocalModelRegistry, baseline: Path, evaluator: StubEvaluator
) -> None:
    path = candidate(tmp_path, "c", seed=1)
    evaluator.set(path, scores(caught=48, flagged=8))  # catches more, but flags more real files
    done = promote(registry, evaluator, path, "2.0")
    assert done.status is ModelStatus.REJECTED
    assert done.decision is not None and "false positive rate" in done.decision.reasons[0]
    assert registry.current().version == "1.0"  # type: ignore[union-attr]
    assert not (registry.root / "models/2.0").exists()
    assert registry.get_record("2.0").status is ModelStatus.REJECTED  # type: ignore[union-attr]
    assert "REJECT" in registry.load_report(done)  # type: ignore[operator]


def test_too_small_a_gate_set_is_rejected(
    tmp_path: Path, registry: LocalModelRegistry, baseline: Path, evaluator: StubEvaluator
) -> None:
    path = candidate(tmp_path, "c", seed=1)
    evaluator.set(path, scores(caught=48, flagged=1))
    done = promote(registry, evaluator, path, "2.0", policy=GatePolicy(min_per_class=60))
    assert done.status is ModelStatus.REJECTED
    assert done.decision is not None
    assert done.decision.reasons == [
        "the gate set has 50 scored real and 50 scored fake files (0 without a face or unreadable); "
        "the gate needs at least 60 of each to compare models"
    ]


def test_slow_drift_is_stopped_by_the_best_model_ever_promoted(
    tmp_path: Path, registry: LocalModelRegistry, baseline: Path, evaluator: StubEvaluator
) -> None:
    """Each candidate catches 8 fewer of 400 fakes than the one before: within the margin of the
    live model every time, but the third is two steps below the best model ever promoted."""
    policy = GatePolicy(tpr_margin=0.04, min_per_class=20, resamples=1000)
    evaluator.set(baseline, scores(caught=300, n=400))
    for version, seed, caught in (("2.0", 1, 360), ("3.0", 2, 352)):
        path = candidate(tmp_path, version, seed=seed)
        evaluator.set(path, scores(caught=caught, n=400))
        assert promote(registry, evaluator, path, version, policy=policy).status is ModelStatus.PROMOTED
    assert best_promoted(registry.records()).version == "2.0"  # type: ignore[union-attr]
    path = candidate(tmp_path, "4.0", seed=3)
    evaluator.set(path, scores(caught=344, n=400))
    done = promote(registry, evaluator, path, "4.0", policy=policy)
    assert done.status is ModelStatus.REJECTED
    assert done.decision is not None and done.decision.best_version == "2.0"
    live, best = done.decision.comparisons
    assert (live.role, live.version, live.passed) == ("live", "3.0", True)  # fine against the live model
    assert (best.role, best.version, best.passed) == ("best", "2.0", False)
    assert done.decision.reasons == best.reasons and "the best model 2.0" in best.reasons[0]
    assert registry.current().version == "3.0"  # type: ignore[union-attr]


def test_rolled_back_models_are_not_the_best(
    tmp_path: Path, registry: LocalModelRegistry, baseline: Path, evaluator: StubEvaluator
) -> None:
    path = candidate(tmp_path, "c", seed=1)
    evaluator.set(path, scores(caught=49))
    promote(registry, evaluator, path, "2.0")
    rollback(registry)
    assert best_promoted(registry.records()).version == "1.0"  # type: ignore[union-attr]


def test_crash_between_the_promoting_record_and_the_pointer_is_finished_by_reconcile(
    tmp_path: Path, registry: LocalModelRegistry, baseline: Path, evaluator: StubEvaluator
) -> None:
    path = candidate(tmp_path, "c", seed=1)
    evaluator.set(path, scores(caught=48))
    crashing = CrashingRegistry(registry.root)
    with pytest.raises(SystemExit):
        promote(crashing, evaluator, path, "2.0")
    crashing.close()
    half = registry.get_record("2.0")
    assert half is not None and half.status is ModelStatus.PROMOTING and half.replaces == "1.0"
    assert registry.current().version == "1.0"  # type: ignore[union-attr]
    [settled] = reconcile(registry)
    assert settled.version == "2.0" and settled.status is ModelStatus.PROMOTED
    assert registry.current().version == "2.0"  # type: ignore[union-attr]
    assert registry.get_record("2.0").status is ModelStatus.PROMOTED  # type: ignore[union-attr]
    assert reconcile(registry) == []  # nothing left to do


def test_a_half_done_promotion_overtaken_by_another_change_is_abandoned(
    tmp_path: Path, registry: LocalModelRegistry, baseline: Path, evaluator: StubEvaluator
) -> None:
    first = candidate(tmp_path, "first", seed=1)
    evaluator.set(first, scores(caught=46))
    promote(registry, evaluator, first, "2.0")
    second = candidate(tmp_path, "second", seed=2)
    evaluator.set(second, scores(caught=47))
    with pytest.raises(SystemExit):
        promote(CrashingRegistry(registry.root), evaluator, second, "3.0")
    rollback(registry)  # meanwhile an operator rolls back 2.0 -> 1.0
    [settled] = reconcile(registry)
    assert settled.status is ModelStatus.FAILED
    assert settled.failure_reason.startswith("promotion abandoned: the pointer moved from 2.0 to 1.0")
    assert registry.current().version == "1.0"  # type: ignore[union-attr]


def test_the_pointer_update_is_conditional(
    tmp_path: Path, registry: LocalModelRegistry, baseline: Path
) -> None:
    other = candidate(tmp_path, "c", seed=1)
    pointer = registry.publish("2.0", other, other.with_suffix(".json"))
    with pytest.raises(PointerConflictError) as raised:
        registry.set_current(pointer, expected="0.9")  # a writer whose view is stale
    assert (raised.value.expected, raised.value.actual) == ("0.9", "1.0")
    with pytest.raises(PointerConflictError):
        registry.set_current(pointer, expected=None)  # a second seeder
    assert registry.current().version == "1.0"  # type: ignore[union-attr]
    registry.set_current(pointer, expected="1.0")
    assert registry.current().version == "2.0"  # type: ignore[union-attr]


def test_published_versions_are_immutable(
    tmp_path: Path, registry: LocalModelRegistry, baseline: Path
) -> None:
    other = candidate(tmp_path, "c", seed=1)
    with pytest.raises(RegistryError, match="already published"):
        registry.publish("1.0", other, other.with_suffix(".json"))
    with pytest.raises(RegistryError, match="not published"):
        registry.set_current(ModelPointer.for_version("9.9"), expected="1.0")


def test_rollback_goes_back_one_promotion_at_a_time(
    tmp_path: Path, registry: LocalModelRegistry, baseline: Path, evaluator: StubEvaluator
) -> None:
    for version, seed, caught in (("2.0", 1, 44), ("3.0", 2, 46)):
        path = candidate(tmp_path, version, seed=seed)
        evaluator.set(path, scores(caught=caught))
        assert promote(registry, evaluator, path, version).status is ModelStatus.PROMOTED
    previous, now = rollback(registry)
    assert (previous.version, now.version) == ("3.0", "2.0")
    assert registry.get_record("3.0").status is ModelStatus.ROLLED_BACK  # type: ignore[union-attr]
    assert rollback(registry)[1].version == "1.0"
    with pytest.raises(RegistryError, match="nothing to roll back"):
        rollback(registry)
    # Forward again to a named version.
    assert rollback(registry, "3.0")[1].version == "3.0"
    assert registry.get_record("3.0").status is ModelStatus.PROMOTED  # type: ignore[union-attr]


def test_rollback_takes_the_conditional_path(
    tmp_path: Path, registry: LocalModelRegistry, baseline: Path, evaluator: StubEvaluator
) -> None:
    """A promotion that lands while a rollback decides makes the rollback fail, not undo it."""
    for version, seed in (("2.0", 1), ("3.0", 2)):
        path = candidate(tmp_path, version, seed=seed)
        evaluator.set(path, scores(caught=46 + seed))
        promote(registry, evaluator, path, version)
    calls: list[str | None] = []

    class Racing(LocalModelRegistry):
        def set_current(self, pointer: ModelPointer, *, expected: str | None) -> None:
            calls.append(expected)
            # Another writer moves the pointer between the rollback's read and its write.
            registry.set_current(ModelPointer.for_version("1.0", baseline_sha(registry)), expected="3.0")
            super().set_current(pointer, expected=expected)

    racing = Racing(registry.root)
    with pytest.raises(PointerConflictError, match=r"names 1\.0, not 3\.0"):
        rollback(racing)
    racing.close()
    assert calls == ["3.0"]  # rollback names the version it replaces
    assert registry.current().version == "1.0"  # type: ignore[union-attr]  # the other writer's move stands
    assert registry.get_record("3.0").status is ModelStatus.PROMOTED  # type: ignore[union-attr]  # restored


def baseline_sha(registry: LocalModelRegistry) -> str:
    return registry.get_record("1.0").sha256  # type: ignore[union-attr]


def test_rollback_refuses_rejected_and_unknown_versions(
    tmp_path: Path, registry: LocalModelRegistry, baseline: Path, evaluator: StubEvaluator
) -> None:
    path = candidate(tmp_path, "c", seed=1)
    evaluator.set(path, scores(caught=5, flagged=20))
    promote(registry, evaluator, path, "2.0")
    with pytest.raises(RegistryError, match="never promoted"):
        rollback(registry, "2.0")
    with pytest.raises(RegistryError, match="no model version"):
        rollback(registry, "8.8")
    with pytest.raises(RegistryError, match="already the current"):
        rollback(registry, "1.0")


def test_rollback_without_a_model(registry: LocalModelRegistry) -> None:
    with pytest.raises(RegistryError, match="no current model"):
        rollback(registry)


def test_records_are_created_only_once(registry: LocalModelRegistry) -> None:
    assert registry.create_record(record("5.0"))
    assert not registry.create_record(record("5.0").model_copy(update={"job_name": "other"}))
    assert registry.get_record("5.0").job_name == "job-5.0"  # type: ignore[union-attr]
