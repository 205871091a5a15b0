"""The registry's operations, the same locally and in AWS: gate-and-promote, rollback, baseline."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from deepfake_detect.core.model_card import ModelCard
from deepfake_detect.registry.base import (
    Decision,
    ModelPointer,
    ModelRecord,
    ModelRegistry,
    ModelStatus,
    RegistryError,
    previous_promoted,
    utc_now,
)
from deepfake_detect.registry.evaluate import Evaluator
from deepfake_detect.registry.gate import ArtifactError, decide, validate_artifact

log = logging.getLogger(__name__)

SERVED = (ModelStatus.PROMOTED, ModelStatus.BASELINE)


def gate_and_promote(
    registry: ModelRegistry,
    record: ModelRecord,
    candidate_onnx: Path,
    evaluator: Evaluator,
    *,
    max_auc_drop: float = 0.005,
) -> ModelRecord:
    """Check the candidate, measure it and the current model on the gate set, and promote it only
    if it is not worse. The decision and both models' metrics are recorded either way."""
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
        current_metrics = None
        if current is not None:
            ensure_record(registry, current)
            current_metrics = evaluator.evaluate(registry.fetch(current, work / "current"))
        candidate = _staged_copy(candidate_onnx, card, record.version, work / "candidate")
        candidate_metrics = evaluator.evaluate(candidate)
        decision = decide(
            candidate_metrics,
            current_metrics,
            max_auc_drop=max_auc_drop,
            current_version=current.version if current else None,
        )
        record.decision = decision
        if not decision.promote:
            log.info("candidate %s rejected: %s", record.version, "; ".join(decision.reasons))
            record.status = ModelStatus.REJECTED
            registry.put_record(record)
            return record
        pointer = registry.publish(record.version, candidate, candidate.with_suffix(".json"))
        record.status, record.promoted_at = ModelStatus.PROMOTED, utc_now()
        registry.put_record(record)  # the record first: a pointer never names an unrecorded model
        registry.set_current(pointer)
    log.info("candidate %s promoted: %s", record.version, "; ".join(decision.reasons))
    return record


def reject(registry: ModelRegistry, record: ModelRecord, reasons: list[str]) -> ModelRecord:
    """Record a candidate that never reached the comparison (corrupt, wrongly shaped, missing)."""
    record.status = ModelStatus.REJECTED
    current = registry.current()
    record.decision = Decision(
        promote=False, reasons=reasons, current_version=current.version if current else None
    )
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
    """Make the shipped model the registry's first current model (local registries start empty)."""
    current = registry.current()
    if current is not None:
        return current
    card = validate_artifact(onnx_path)
    pointer = registry.publish(card.version, onnx_path, onnx_path.with_suffix(".json"))
    registry.put_record(
        ModelRecord(
            version=card.version,
            status=ModelStatus.BASELINE,
            sha256=pointer.sha256,
            artifact=str(onnx_path),
            promoted_at=utc_now(),
        )
    )
    registry.set_current(pointer)
    return pointer


def rollback(registry: ModelRegistry, to_version: str | None = None) -> tuple[ModelPointer, ModelPointer]:
    """Point back at an earlier served model: ``to_version``, or the one promoted before the current.
    Returns (previous pointer, new pointer)."""
    current = registry.current()
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
    registry.set_current(pointer)
    leaving = registry.get_record(current.version)
    if leaving is not None and leaving.status is ModelStatus.PROMOTED:
        leaving.status = ModelStatus.ROLLED_BACK
        registry.put_record(leaving)
    if target.status is ModelStatus.ROLLED_BACK:  # rolling forward again
        target.status, target.promoted_at = ModelStatus.PROMOTED, utc_now()
        registry.put_record(target)
    return current, pointer
