"""Completion events: what is announced when a result reaches ``done`` or ``failed``.

One shape everywhere (docs/events.md, docs/event.schema.json, the ``webhooks`` section of the
OpenAPI document): an EventBridge event whose ``detail`` is ``ScanCompletedDetail``. In the cloud
the detect function puts it on the stack's bus (``aws/adapters/completions.py``); EventBridge delivers the
whole event to its targets, the optional webhook included. Locally the service posts the same
envelope to ``DEEPFAKE_SERVICE_WEBHOOK_URL`` (``local/webhooks.py``), signed with HMAC-SHA256
(``sign``; receivers check it with ``verify``).

Delivery is at least once: a receiver deduplicates on ``detail.id`` + ``detail.status``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from datetime import UTC, datetime
from typing import Any, Final, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from deepfake_detect.core.result import DetectionResult, MediaKind, Status, Verdict

EVENT_SOURCE: Final = "deepfake-detect"
DETAIL_TYPE: Final = "Scan Completed"
# 2: verdict "inconclusive" (between threshold_real and threshold) and threshold_real; version 1
# knew only fake, real, no_face and error.
SCHEMA_VERSION: Final = "2"
FINISHED = frozenset({Status.DONE, Status.FAILED})

# The local webhook's headers (docs/events.md). The signature covers "<timestamp>." + raw body.
SIGNATURE_HEADER = "X-Deepfake-Signature"
TIMESTAMP_HEADER = "X-Deepfake-Timestamp"
EVENT_ID_HEADER = "X-Deepfake-Event-Id"
ATTEMPT_HEADER = "X-Deepfake-Delivery-Attempt"
SIGNATURE_TOLERANCE_S = 300


class ScanCompletedDetail(BaseModel):
    """The ``detail`` of a ``Scan Completed`` event: the outcome of one scan, not the whole record
    (``GET`` ``result_url`` for faces, tracks, provenance)."""

    model_config = ConfigDict(title="ScanCompletedDetail", json_schema_serialization_defaults_required=True)

    schema_version: Literal["2"] = Field(SCHEMA_VERSION, description="this schema's version")
    id: str = Field(description="the result id (GET /v1/results/{id})")
    status: Literal["done", "failed"] = Field(description="how the scan ended")
    owner: str | None = Field(
        None,
        description="whom the file belongs to: the uploader's JWT subject in the cloud, local in the local "
        "service; null when the record names no owner (a file put in the bucket outside the API)",
    )
    path: str = Field(description="the file's name")
    media_kind: MediaKind
    verdict: Verdict | None = Field(
        description="fake (likely manipulated), inconclusive, real (no sign of manipulation), no_face; error "
        "for a failed scan"
    )
    score: float | None = Field(
        description="the classifier's calibrated probability that the file is manipulated"
    )
    threshold: float | None = Field(description="the model's threshold for a fake verdict (t_fake)")
    threshold_real: float | None = Field(
        None, description="below this score the verdict is real; between it and threshold, inconclusive"
    )
    evidence_kind: str | None = Field(
        None,
        description="for a fake verdict, what the evidence points to: generated (looks AI-generated) or "
        "swapped (looks face-swapped); null otherwise and for models without kind outputs",
    )
    model_version: str | None = Field(description="the model that produced the verdict")
    error_code: str | None = Field(description="why the scan failed (failed only)")
    created_at: datetime = Field(description="when the record was created (the upload)")
    completed_at: datetime = Field(description="when the event was made, just after the result was stored")
    result_url: str = Field(description="the result's path in the API, relative to its base URL")


class ScanCompletedEvent(BaseModel):
    """The envelope: EventBridge's own event structure. In the cloud EventBridge fills it in;
    the local webhook sends the same fields (``account`` and ``region`` are ``local``)."""

    model_config = ConfigDict(
        title="ScanCompletedEvent", populate_by_name=True, json_schema_serialization_defaults_required=True
    )

    version: str = Field("0", description="EventBridge's envelope version")
    id: str = Field(description="this event's id (a redelivered event keeps it)")
    detail_type: Literal["Scan Completed"] = Field(DETAIL_TYPE, alias="detail-type")
    source: Literal["deepfake-detect"] = EVENT_SOURCE
    account: str = Field(description="the AWS account; local for the local service")
    time: datetime
    region: str = Field(description="the AWS region; local for the local service")
    resources: list[str] = Field(default_factory=list)
    detail: ScanCompletedDetail

    def body(self) -> bytes:
        """The JSON body as sent (field names as EventBridge spells them)."""
        return self.model_dump_json(by_alias=True).encode()


def event_json_schema() -> dict[str, Any]:
    """The JSON Schema of the event as delivered (docs/event.schema.json is this, written out)."""
    schema = ScanCompletedEvent.model_json_schema(by_alias=True, mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:deepfake-detect:event:scan-completed:{SCHEMA_VERSION}",
        **schema,
    }


def completion_detail(result: DetectionResult, now: datetime | None = None) -> ScanCompletedDetail | None:
    """The event detail of a finished result; None while it is queued or processing."""
    if result.status not in FINISHED:
        return None
    owner = getattr(result, "owner", None)  # per-owner records: absent from older records
    return ScanCompletedDetail(
        id=result.id,
        status="done" if result.status is Status.DONE else "failed",
        owner=str(owner) if owner else None,
        path=result.path,
        media_kind=result.media_kind,
        verdict=result.verdict,
        score=result.score,
        threshold=result.threshold,
        threshold_real=result.threshold_real,
        evidence_kind=result.evidence_kind,
        model_version=result.model.version if result.model else None,
        error_code=result.error.code.value if result.error else None,
        created_at=result.created_at,
        completed_at=now or datetime.now(UTC),
        result_url=f"/v1/results/{result.id}",
    )


def completion_event(
    result: DetectionResult, *, account: str = "local", region: str = "local", now: datetime | None = None
) -> ScanCompletedEvent | None:
    """The whole event as the local webhook sends it; None for an unfinished result."""
    now = now or datetime.now(UTC)
    detail = completion_detail(result, now)
    if detail is None:
        return None
    return ScanCompletedEvent(id=str(uuid.uuid4()), account=account, time=now, region=region, detail=detail)


# ---------------------------------------------------------------- local webhook deliveries
DeliveryState = Literal["pending", "delivered", "failed"]


class DeliveryAttempt(BaseModel):
    attempt: int = Field(description="1 for the first try")
    attempted_at: datetime
    status_code: int | None = Field(description="the receiver's HTTP status; None when none came")
    error: str | None = Field(description="why the attempt failed; None when it was delivered")
    duration_ms: float


class Delivery(BaseModel):
    """One event and every attempt to deliver it."""

    event_id: str
    result_id: str
    event_status: str = Field(description="the result's status the event announces: done or failed")
    url: str = Field(description="the receiver (scheme, host and path; no query)")
    state: DeliveryState = Field(description="pending (more attempts to come), delivered or failed")
    created_at: datetime
    next_attempt_at: datetime | None = Field(description="when a pending delivery is tried next")
    attempts: list[DeliveryAttempt] = Field(default_factory=list)


class DeliveryLog(Protocol):
    """The local webhook's record of deliveries (``GET /v1/results/{id}/deliveries``)."""

    def for_result(self, result_id: str) -> list[Delivery]: ...


class CompletionPublisher(Protocol):
    """Announces finished results; the workers call it right after a result is stored."""

    def publish(self, result: DetectionResult) -> None: ...


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Deepfake-Signature`` value: ``sha256=`` + hex HMAC-SHA256 of ``<timestamp>.<body>``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(
    secret: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    *,
    tolerance_s: float = SIGNATURE_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """What a receiver checks: the signature over the raw body and the timestamp header, and a
    timestamp within ``tolerance_s`` of its clock (an old request replayed is refused)."""
    if not timestamp or not signature or not timestamp.isdigit():
        return False
    if abs((now if now is not None else time.time()) - int(timestamp)) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)
