"""The registry's records and ports.

A *pointer* names the current model; it has the same JSON shape as the SSM parameter that
the cloud API's ``aws.registry.CurrentModelCard`` reads (``version``, ``onnx_key``, ``card_key``), plus the
file's sha256 so a reader that already holds that file does not download it again.
A *record* is one model's history: the training job that made it, the data it used, the gate's
metrics and decision, and whether it is (or was) promoted.

The pointer only moves by compare-and-swap: ``set_current(pointer, expected=...)`` names the version
it replaces and raises ``PointerConflictError`` when another writer moved it first, so promotion
and rollback can never overwrite each other blindly. A promotion is written ``PROMOTING`` before
the pointer moves and ``PROMOTED`` after (``promote.reconcile`` finishes or abandons one a crash left
half done).
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
    FAILED = "failed"  # the job failed (or its promotion was abandoned): never promoted
    STOPPED = "stopped"  # the job was stopped: never promoted
    REJECTED = "rejected"  # the gate said no (worse, corrupt, wrong shape, too few gate files)
    PROMOTING = "promoting"  # the gate said yes; the pointer is being moved (see promote.reconcile)
    PROMOTED = "promoted"  # served now or before
    ROLLED_BACK = "rolled_back"  # was promoted, then the pointer was rolled back past it
    BASELINE = "baseline"  # the model that was current when the registry first saw it


class GateMetrics(BaseModel):
    """One model on the gate set: file-level ROC AUC, and the rates at the model's own card threshold
    (where the product calls ``fake``), plus the expected calibration error of its scores."""

    auc: float | None
    fpr: float | None
    tpr: float | None
    ece: float | None = None
    threshold: float
    max_fpr: float | None = Field(None, description="the FPR the card's threshold was chosen for")
    n_real: int
    n_fake: int
    n_skipped: int = Field(0, description="gate files without a usable score (no face, unreadable)")


class Delta(BaseModel):
    """candidate - reference, with its paired bootstrap interval."""

    point: float
    low: float
    high: float


class SliceDelta(BaseModel):
    """One slice of the gate set (``fake/<kind>`` or ``real/<source>``): its rate at each model's
    card threshold (TPR of a fake slice, FPR of a real one) and candidate - reference, paired."""

    name: str
    metric: str = Field(description="tpr (a slice of fakes) or fpr (a slice of real files)")
    n: int
    candidate: float
    reference: float
    delta: Delta
    judged: bool = Field(description="large enough (policy.min_per_slice) for the slice rule")
    passed: bool


class Comparison(BaseModel):
    """The candidate against one reference model, on the files both scored (paired by file)."""

    role: str = Field(description="live, or best (the best model ever promoted)")
    version: str
    candidate: GateMetrics
    reference: GateMetrics
    tpr: Delta | None = None
    fpr: Delta | None = None
    auc: Delta | None = None
    ece: Delta | None = None
    slices: list[SliceDelta] = Field(default_factory=list)
    passed: bool
    reasons: list[str] = Field(default_factory=list)


class Decision(BaseModel):
    promote: bool
    reasons: list[str]
    candidate: GateMetrics | None = None
    current: GateMetrics | None = None
    current_version: str | None = None
    best_version: str | None = Field(None, description="the best model ever promoted, when not the live one")
    comparisons: list[Comparison] = Field(default_factory=list)
    policy: dict[str, Any] = Field(default_factory=dict, description="margins, confidence, seed, sizes")


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
    gate: GateMetrics | None = Field(
        None, description="this model on the gate set when it was promoted (or first measured as live)"
    )
    replaces: str | None = Field(None, description="PROMOTING: the version the pointer named before")
    report: str = Field("", description="where the gate's report is (path or s3:// URI of the JSON)")


class RegistryError(RuntimeError):
    """A registry operation that cannot be done as asked (unknown version, nothing to roll back to)."""


class PointerConflictError(RegistryError):
    """The pointer no longer names the version a conditional update expected (another writer won)."""

    def __init__(self, expected: str | None, actual: str | None) -> None:
        super().__init__(
            f"the model pointer names {actual or 'nothing'}, not {expected or 'nothing'}: "
            "another promotion or rollback moved it; nothing was changed"
        )
        self.expected, self.actual = expected, actual


class ModelRegistry(Protocol):
    """Where promoted models live, which one is current, and the history of all of them."""

    def current(self) -> ModelPointer | None:
        """The pointer, or None when no model was ever promoted through the registry."""
        ...

    def set_current(self, pointer: ModelPointer, *, expected: str | None) -> None:
        """Point the service at a published version if the pointer still names ``expected`` (None:
        no pointer yet); raises ``PointerConflictError`` otherwise. Promotion, rollback and seeding
        all end here, under the same condition."""
        ...

    def repair(self) -> ModelPointer | None:
        """Finish a pointer update a crash left half done (where the pointer has a served copy);
        returns the current pointer."""
        ...

    def publish(self, version: str, onnx_path: Path, card_path: Path) -> ModelPointer:
        """Copy a model to its immutable versioned keys; refuses to overwrite a different file."""
        ...

    def fetch(self, pointer: ModelPointer, directory: Path) -> Path:
        """Download (or locate) the pointer's model; returns the .onnx path, its card beside it."""
        ...

    def put_record(self, record: ModelRecord) -> None: ...

    def create_record(self, record: ModelRecord) -> bool:
        """Insert a record only if its version has none; False (and nothing written) otherwise."""
        ...

    def get_record(self, version: str) -> ModelRecord | None: ...

    def records(self) -> Sequence[ModelRecord]:
        """Every record, newest first."""
        ...

    def save_report(self, record: ModelRecord, report_json: str, summary: str) -> str:
        """Write the gate's report next to the candidate (JSON and a text summary); returns where."""
        ...

    def load_report(self, record: ModelRecord) -> str | None:
        """The text summary ``save_report`` wrote for this record, or None."""
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
