"""The registry's operations, the same locally and in AWS: gate-and-promote, reconcile, rollback,
baseline.

Crash safety. A promotion publishes the candidate's immutable files, writes its record as
``PROMOTING`` (with the version it replaces), moves the pointer by compare-and-swap
(``ModelRegistry.set_current(pointer, expected=...)``), then writes ``PROMOTED``. A crash anywhere
leaves a state ``reconcile`` (run first by every retrain event and ``deepfake-detect retrain``)
settles: the pointer's served copy is repaired, a ``PROMOTING`` record whose pointer still names the
version it replaces is finished, one whose pointer already names it is marked ``PROMOTED``, and one
whose pointer was moved elsewhere meanwhile (a rollback, another promotion) is abandoned. A rollback
takes the same conditional path, so the two can never overwrite each other.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deepfake_detect.core.model_card import ModelCard
from deepfake_detect.registry.base import (
    Decision,
    GateMetrics,
    ModelPointer,
    ModelRecord,
    ModelRegistry,
    ModelStatus,
    PointerConflictError,
    RegistryError,
    previous_promoted,
    utc_now,
)
from deepfake_detect.registry.evaluate import Evaluator, GateTimeoutError
from deepfake_detect.registry.gate import (
    ArtifactError,
    ModelScores,
    Reference,
    decide,
    render_summary,
    validate_artifact,
)
from deepfake_detect.registry.policy import GatePolicy

log = logging.getLogger(__name__)

SERVED = (ModelStatus.PROMOTED, ModelStatus.BASELINE)


def measured(record: ModelRecord) -> GateMetrics | None:
    """What the gate measured for this model when it was promoted (or first measured as live)."""
    if record.gate is not None:
        return record.gate
    return record.decision.candidate if record.decision and record.decision.promote else None


def best_promoted(records: Sequence[ModelRecord]) -> ModelRecord | None:
    """The best model ever promoted that is still eligible to serve (not rolled back): the highest
    TPR at its card threshold when it was measured, then the higher AUC, then the newer.

    The ranking uses recorded metrics (possibly from an older gate set); the gate then re-evaluates
    the chosen model on today's gate set, so the comparison itself is always paired and current."""
    ranked = [
        (m.tpr, m.auc or 0.0, r.promoted_at or r.created_at, r)
        for r in records
        if r.status in SERVED and (m := measured(r)) is not None and m.tpr is not None
    ]
    if not ranked:
        return None
    return max(ranked, key=lambda row: (row[0], row[1], row[2]))[3]


def gate_and_promote(
    registry: ModelRegistry,
    record: ModelRecord,
    candidate_onnx: Path,
    evaluator: Evaluator,
    *,
    policy: GatePolicy | None = None,
) -> ModelRecord:
    """Check the candidate, score it, the live model and the best model ever promoted on the gate
    set, and promote it only if it is not worse than either. The decision, both comparisons and a
    report (JSON + text, next to the candidate) are recorded either way."""
    policy = policy or GatePolicy()
    record.finished_at = record.finished_at or utc_now()
    try:
        card = validate_artifact(candidate_onnx)
    except ArtifactError as exc:
        log.warning("candidate %s rejected: %s", record.version, exc)
        return reject(registry, record, [str(exc)])
    record.sha256 = ModelCard.load(candidate_onnx.with_suffix(".json")).sha256 or record.sha256
    current = registry.current()
    with tempfile.TemporaryDirectory(prefix="gate-") as tmp:
        work = Path(tmp)
        try:
            references, scores = _reference_scores(registry, current, evaluator, work)
            candidate = _staged_copy(candidate_onnx, card, record.version, work / "candidate")
            scores["candidate"] = evaluator.evaluate(candidate)
        except (GateTimeoutError, RegistryError) as exc:
            log.warning("candidate %s not gated: %s", record.version, exc)
            return reject(registry, record, [f"the gate could not evaluate the models: {exc}"])
        decision = decide(scores["candidate"], references, policy)
        record.decision = decision
        _write_report(registry, record, scores, evaluator.info())
        if current is not None and "live" in scores:
            _remember_live_metrics(registry, current.version, scores["live"], policy)
        if not decision.promote:
            log.info("candidate %s rejected: %s", record.version, "; ".join(decision.reasons))
            record.status = ModelStatus.REJECTED
            registry.put_record(record)
            return record
        pointer = registry.publish(record.version, candidate, candidate.with_suffix(".json"))
    # The record first: a pointer never names an unrecorded model, and a crash from here on is
    # finished (or abandoned) by ``reconcile``.
    record.status = ModelStatus.PROMOTING
    record.replaces = current.version if current else None
    record.gate = decision.candidate
    registry.put_record(record)
    finish_promotion(registry, record, pointer)
    log.info("candidate %s %s: %s", record.version, record.status.value, "; ".join(decision.reasons))
    return record


def _reference_scores(
    registry: ModelRegistry, current: ModelPointer | None, evaluator: Evaluator, work: Path
) -> tuple[list[Reference], dict[str, ModelScores]]:
    references: list[Reference] = []
    scores: dict[str, ModelScores] = {}
    if current is None:
        return references, scores
    ensure_record(registry, current)
    scores["live"] = evaluator.evaluate(registry.fetch(current, work / "live"))
    references.append(Reference("live", current.version, scores["live"]))
    best = best_promoted(registry.records())
    if best is not None and best.version != current.version:
        try:
            path = registry.fetch(ModelPointer.for_version(best.version, best.sha256), work / "best")
        except RegistryError as exc:
            raise RegistryError(
                f"the best model ever promoted, {best.version}, cannot be read: {exc}"
            ) from exc
        scores["best"] = evaluator.evaluate(path)
        references.append(Reference("best", best.version, scores["best"]))
    return references, scores


def _remember_live_metrics(
    registry: ModelRegistry, version: str, scores: ModelScores, policy: GatePolicy
) -> None:
    """A live model never measured before (the shipped baseline) keeps its first measurement, so it
    can rank as the best model ever promoted."""
    live = registry.get_record(version)
    if live is not None and measured(live) is None:
        live.gate = scores.metrics(policy.max_fpr)
        registry.put_record(live)


def _write_report(
    registry: ModelRegistry,
    record: ModelRecord,
    scores: dict[str, ModelScores],
    gate_info: dict[str, Any] | None,
) -> None:
    decision = record.decision
    assert decision is not None
    candidate = scores["candidate"]
    others = {role: dict(zip(s.files, s.scores, strict=True)) for role, s in scores.items()}
    files = [
        {
            "file": name,
            "label": "fake" if label else "real",
            **{role: o.get(name) for role, o in others.items()},
        }
        for name, label in zip(candidate.files, candidate.labels, strict=True)
    ]
    document = {
        "version": record.version,
        "job_name": record.job_name,
        "written_at": utc_now().isoformat(),
        "gate_set": gate_info or {},
        "decision": decision.model_dump(mode="json"),
        "files": files,
    }
    summary = render_summary(record.version, decision, gate_info)
    record.report = registry.save_report(record, json.dumps(document, indent=2) + "\n", summary)


def finish_promotion(registry: ModelRegistry, record: ModelRecord, pointer: ModelPointer) -> ModelRecord:
    """Move the pointer from ``record.replaces`` to the record's version (compare-and-swap) and mark
    it ``PROMOTED``; if another writer moved the pointer first, the promotion is abandoned."""
    try:
        registry.set_current(pointer, expected=record.replaces)
    except PointerConflictError as exc:
        if exc.actual != record.version:  # not "already done by an earlier attempt"
            record.status = ModelStatus.FAILED
            record.failure_reason = (
                f"promotion abandoned: the pointer moved from {record.replaces or 'nothing'} to "
                f"{exc.actual or 'nothing'} before it finished; gate the model again if it is wanted"
            )
            registry.put_record(record)
            log.warning("promotion of %s abandoned: %s", record.version, exc)
            return record
    record.status, record.promoted_at = ModelStatus.PROMOTED, record.promoted_at or utc_now()
    registry.put_record(record)
    return record


def reconcile(registry: ModelRegistry) -> list[ModelRecord]:
    """Settle what a crash left half done; returns the records it changed. Idempotent and cheap
    (one read of the pointer and of the records) when nothing is pending."""
    current = registry.repair()
    settled: list[ModelRecord] = []
    for record in registry.records():
        if record.status is ModelStatus.PROMOTING:
            pointer = ModelPointer.for_version(record.version, record.sha256)
            settled.append(finish_promotion(registry, record, pointer))
            log.warning("half-done promotion of %s settled: %s", record.version, record.status.value)
        elif (
            current is not None
            and record.version == current.version
            and record.status is ModelStatus.ROLLED_BACK
        ):
            # A rollback marks the model it leaves before it moves the pointer; it did not move.
            record.status = ModelStatus.PROMOTED
            registry.put_record(record)
            settled.append(record)
    return settled


def reject(registry: ModelRegistry, record: ModelRecord, reasons: list[str]) -> ModelRecord:
    """Record a candidate that never reached the comparison (corrupt, wrongly shaped, missing)."""
    record.status = ModelStatus.REJECTED
    current = registry.current()
    record.decision = Decision(
        promote=False, reasons=reasons, current_version=current.version if current else None
    )
    record.finished_at = record.finished_at or utc_now()
    registry.put_record(record)
    return record


def _staged_copy(onnx_path: Path, card: ModelCard, version: str, directory: Path) -> Path:
    """The candidate as it will be published: its card carries the registry's version, so every
    result it produces names the version that rollback and the records use."""
    directory.mkdir(parents=True)
    target = directory / onnx_path.name
    shutil.copyfile(onnx_path, target)
    card.model_copy(update={"version": version}).save(target.with_suffix(".json"))
    return target


def ensure_record(registry: ModelRegistry, pointer: ModelPointer) -> None:
    """A model served before the registry recorded anything (the first deploy) gets a baseline record,
    so a rollback can return to it."""
    if registry.get_record(pointer.version) is None:
        registry.put_record(
            ModelRecord(
                version=pointer.version,
                status=ModelStatus.BASELINE,
                sha256=pointer.sha256,
                promoted_at=utc_now(),
            )
        )


def adopt_baseline(registry: ModelRegistry, onnx_path: Path) -> ModelPointer:
    """Seed an empty registry with the shipped model (its version and sha256), only if no pointer
    exists: a conditional create, so two seeders cannot both win and a seeded or promoted pointer
    is never moved back."""
    current = registry.current()
    if current is not None:
        return current
    card = validate_artifact(onnx_path)
    pointer = registry.publish(card.version, onnx_path, onnx_path.with_suffix(".json"))
    try:
        registry.set_current(pointer, expected=None)
    except PointerConflictError:
        found = registry.current()
        if found is None:
            raise
        return found
    if registry.get_record(card.version) is None:
        registry.put_record(
            ModelRecord(
                version=card.version,
                status=ModelStatus.BASELINE,
                sha256=pointer.sha256,
                artifact=str(onnx_path),
                promoted_at=utc_now(),
            )
        )
    return pointer


def rollback(registry: ModelRegistry, to_version: str | None = None) -> tuple[ModelPointer, ModelPointer]:
    """Point back at an earlier served model: ``to_version``, or the one promoted before the current.
    Returns (previous pointer, new pointer). The pointer moves by the same compare-and-swap as a
    promotion: a promotion that lands meanwhile makes this fail (``PointerConflictError``) instead of
    being silently undone."""
    current = registry.repair()
    if current is None:
        raise RegistryError("no current model: nothing to roll back")
    ensure_record(registry, current)
    if to_version is None:
        target = previous_promoted(registry.records(), current.version)
        if target is None:
            raise RegistryError(f"no model was promoted before {current.version}: nothing to roll back to")
    else:
        found = registry.get_record(to_version)
        if found is None:
            raise RegistryError(f"no model version {to_version!r} in the registry")
        if found.status not in (*SERVED, ModelStatus.ROLLED_BACK):
            raise RegistryError(f"version {to_version} was never promoted (status {found.status.value})")
        target = found
    if target.version == current.version:
        raise RegistryError(f"version {current.version} is already the current model")
    pointer = ModelPointer.for_version(target.version, target.sha256)
    leaving = registry.get_record(current.version)
    marked = leaving is not None and leaving.status is ModelStatus.PROMOTED
    if leaving is not None and marked:
        # Marked before the pointer moves (reconcile restores it if the move never happens), so a
        # rolled-back model is never taken for the best model ever promoted.
        leaving.status = ModelStatus.ROLLED_BACK
        registry.put_record(leaving)
    try:
        registry.set_current(pointer, expected=current.version)
    except RegistryError:
        if leaving is not None and marked:
            leaving.status = ModelStatus.PROMOTED
            registry.put_record(leaving)
        raise
    if target.status is ModelStatus.ROLLED_BACK:  # rolling forward again
        target.status, target.promoted_at = ModelStatus.PROMOTED, utc_now()
        registry.put_record(target)
    return current, pointer
