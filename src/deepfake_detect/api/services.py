"""What the API needs from the outside world, wired once per process."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from deepfake_detect.api.identity import Identify, local_caller
from deepfake_detect.core.model_card import ModelCard
from deepfake_detect.core.result import DetectionResult
from deepfake_detect.registry.accuracy import ReviewedSource
from deepfake_detect.registry.feedback import Feedback, FeedbackStore
from deepfake_detect.settings import Settings
from deepfake_detect.store.base import DeletableMediaStore, IdempotentResults, MediaStore, ResultStore
from deepfake_detect.store.deletion import ResultDeleter
from deepfake_detect.store.events import DeliveryLog
from deepfake_detect.store.queue import Processor


class UploadSigner(Protocol):
    """Cloud uploads: hands the client a presigned POST so the file goes straight to the bucket,
    and records the queued result as ``owner``'s."""

    def presign(
        self,
        filename: str,
        content_type: str,
        owner: str,
        *,
        size: int | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """The ticket (``result_id``, ``url``, ``fields``, ...). ``size``: the declared size,
        checked (``MediaError``) and enforced by the POST. ``idempotency_key``: a repeat answers
        the first upload's ticket (``replayed``) or ``UploadKeyReusedError`` for another file."""
        ...


class ReviewMetrics(Protocol):
    """Told of every label stored (the cloud: EMF metrics of agreement with the verdicts)."""

    def record(self, result: DetectionResult, feedback: Feedback, previous: Feedback | None) -> None:
        """``previous``: the label this one replaces, if any."""
        ...


class Background(Protocol):
    """Work the service runs beside the requests while it is up (local retention)."""

    def start(self) -> Any: ...

    def shutdown(self) -> None: ...


@dataclass(frozen=True)
class StorageHealth:
    """What ``/health`` says of the storage: ``ok`` False when free space is under the threshold
    or the write probe failed (``problem`` says which)."""

    ok: bool
    free_bytes: int | None = None
    problem: str | None = None


@dataclass
class Services:
    settings: Settings
    media: MediaStore
    results: ResultStore
    model_card: Callable[[], ModelCard]
    processor: Processor | None = None  # local service: scans in-process
    uploads: UploadSigner | None = None  # cloud: presigned uploads, scanned by the detect function
    feedback: FeedbackStore | None = None  # reviewer labels (POST /v1/results/{id}/feedback)
    # Who is calling (their records, whether they may label): the local service's one owner
    # unless the deployment says otherwise (the cloud: the JWT authorizer's claims).
    identity: Identify = local_caller
    # DELETE /v1/results/{id}; by default the record and its files in ``media``.
    deleter: ResultDeleter | None = None
    background: Sequence[Background] = field(default_factory=tuple)  # started with the app
    deliveries: DeliveryLog | None = None  # local webhook attempts (GET /v1/results/{id}/deliveries)
    accuracy: ReviewedSource | None = None  # GET /v1/stats: verdicts with their reviewers' labels
    review_metrics: ReviewMetrics | None = None  # told of each label stored (cloud metrics)
    # POST /v1/detect's Idempotency-Key: a retried upload answers with the first one's result
    idempotency: IdempotentResults | None = None
    # /health's storage check (local service: free space and a write probe of the data folder)
    storage_health: Callable[[], StorageHealth] | None = None
    # GET /v1/results/export: None streams the whole range in one answer (the local service);
    # a number cuts an answer there and hands out X-Next-Token (Lambda cannot stream its answer).
    export_max_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.deleter is None and isinstance(self.media, DeletableMediaStore):
            self.deleter = ResultDeleter(self.media, self.results)

    @property
    def mode(self) -> str:
        return "local" if self.processor is not None else "cloud"
