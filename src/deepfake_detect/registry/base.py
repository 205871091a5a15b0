"""The registry's records and ports.

A *pointer* names the current model; it has the same JSON shape as the SSM parameter that
the cloud API's ``aws.registry.CurrentModelCard`` reads (``version``, ``onnx_key``, ``card_key``), plus the
file's sha256 so a reader that already holds that file does not download it again.
A *record* is one model's history: the training job that made it, the data it used, the gate's
metrics and decision, and whether it is (or was) promoted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, Field

from deepfake_detect.core.constants import CARD_FILE, CLASSIFIER_FILE


def utc_now() -> datetime:
    return datetime.now(UTC)


def job_version(now: datetime) -> str:
    """A model version (and its training job's suffix) from the time the job started."""
    return now.strftime("%Y.%m.%d-%H%M%S")


def version_keys(version: str) -> tuple[str, str]:
    """The immutable keys of a promoted version (the same layout in the bucket and the folder)."""
    return f"models/{version}/{CLASSIFIER_FILE}", f"models/{version}/{CARD_FILE}"


class ModelPointer(BaseModel):
    version: str
    onnx_key: str
    card_key: str
    sha256: str = ""

    @classmethod
    def for_version(cls, version: str, sha256: str = "") -> ModelPointer:
        onnx_key, card_key = version_keys(version)
        return cls(version=version, onnx_key=onnx_key, card_key=card_key, sha256=sha256)


class ModelStatus(StrEnum):
    TRAINING = "training"  # a job is running (or finished and awaits its gate)
    FAILED = "failed"  # the job failed: never promoted
    STOPPED = "stopped"  # the job was stopped: never promoted
    REJECTED = "rejected"  # the gate said no (worse, corrupt, wrong shape)
    PROMOTED = "promoted"  # served now or before
    ROLLED_BACK = "rolled_back"  # was promoted, then the pointer was rolled back past it
    BASELINE = "baseline"  # the model that was current when the registry first saw it


class GateMetrics(BaseModel):
    """What the gate compares: file-level ROC AUC and rates at the model's own threshold."""

    auc: float | None
    fpr: float | None
    tpr: float | None
    threshold: float
    n_real: int
    n_fake: int
    n_skipped: int = Field(0, description="gate files without a usable score (no face, unreadable)")


class Decision(BaseModel):
    promote: bool
    reasons: list[str]
    candidate: GateMetrics | None = None
    current: GateMetrics | None = None
    current_version: str | None = None


class ModelRecord(BaseModel):
    version: str
    status: ModelStatus
    job_name: str = ""
    created_at: datetime = Field(default_factory=utc_now)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    promoted_at: datetime | None = None
    data: dict[str, Any] = Field(default_factory=dict, description="inputs the job trained on")
    artifact: str = Field("", description="where the job wrote its model (s3:// URI or folder)")
    sha256: str = ""
    decision: Decision | None = None
    failure_reason: str = ""


class RegistryError(RuntimeError):
    """A registry operation that cannot be done as asked (unknown version, nothing to roll back to)."""


class ModelRegistry(Protocol):
    """Where promoted models live, which one is current, and the history of all of them."""

    def current(self) -> ModelPointer | None:
        """The pointer, or None when no model was ever promoted through the registry."""
        ...

    def set_current(self, pointer: ModelPointer) -> None:
        """Point the service at a published version (promotion and rollback both end here)."""
        ...

    def publish(self, version: str, onnx_path: Path, card_path: Path) -> ModelPointer:
        """Copy a model to its immutable versioned keys; refuses to overwrite a different file."""
        ...

    def fetch(self, pointer: ModelPointer, directory: Path) -> Path:
        """Download (or locate) the pointer's model; returns the .onnx path, its card beside it."""
        ...

    def put_record(self, record: ModelRecord) -> None: ...

    def get_record(self, version: str) -> ModelRecord | None: ...

    def records(self) -> Sequence[ModelRecord]:
        """Every record, newest first."""
        ...


def previous_promoted(records: Sequence[ModelRecord], current_version: str) -> ModelRecord | None:
    """The model promoted just before the current one (what a plain rollback goes back to)."""
    served = sorted(
        (r for r in records if r.status in (ModelStatus.PROMOTED, ModelStatus.BASELINE)),
        key=lambda r: r.promoted_at or r.created_at,
    )
    versions = [r.version for r in served]
    if current_version not in versions:
        return served[-1] if served else None
    index = versions.index(current_version)
    return served[index - 1] if index > 0 else None
