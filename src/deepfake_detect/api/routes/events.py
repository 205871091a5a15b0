"""Completion events in the API: the ``Scan Completed`` webhook in the OpenAPI document (both
modes), and the local webhook's delivery attempts (``GET /v1/results/{id}/deliveries``, local)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field

from deepfake_detect.api.deps import ServicesDep, client_error, error_responses
from deepfake_detect.store.events import (
    DETAIL_TYPE,
    EVENT_SOURCE,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Delivery,
    ScanCompletedEvent,
)

router = APIRouter()

EVENTS_DESCRIPTION = f"""

**Completion events.** Every result that reaches `done` or `failed` is announced once it is
stored, as an EventBridge-shaped event (`source` `{EVENT_SOURCE}`, `detail-type` `{DETAIL_TYPE}`;
the `scanCompleted` webhook below, docs/events.md). In the cloud it is put on the stack's event
bus, and the optional webhook target receives it through an EventBridge API destination (with
the secret in the connection's `X-Deepfake-Webhook-Secret` header). The local service posts it
to `DEEPFAKE_SERVICE_WEBHOOK_URL` with `{TIMESTAMP_HEADER}` and `{SIGNATURE_HEADER}:
sha256=<hex HMAC-SHA256 of "<timestamp>." + raw body>`, retries with backoff, and lists every
attempt at `GET /v1/results/{{id}}/deliveries`."""


class DeliveryList(BaseModel):
    result_id: str
    webhook: bool = Field(description="whether this service has a webhook configured")
    deliveries: list[Delivery] = Field(description="one per event, oldest first, each with its attempts")


@router.get("/v1/results/{result_id}/deliveries", tags=["results"], responses=error_responses(404))
def get_deliveries(services: ServicesDep, result_id: str) -> DeliveryList:
    """Local only: the completion webhook's deliveries of this result's events, every attempt
    with its status code or error (docs/events.md)."""
    if services.results.get(result_id) is None:
        raise client_error(404, "result_not_found", f"no result with id {result_id!r}")
    log = services.deliveries
    return DeliveryList(
        result_id=result_id,
        webhook=log is not None,
        deliveries=log.for_result(result_id) if log is not None else [],
    )


def document_events(app: FastAPI) -> None:
    """Describe the completion event in the app's OpenAPI document (its ``webhooks`` section)."""
    app.description = (app.description or "") + EVENTS_DESCRIPTION

    @app.webhooks.post("scanCompleted", tags=["events"])
    def scan_completed(event: ScanCompletedEvent) -> None:
        """`Scan Completed`: a result reached `done` or `failed`. Delivery is at least once:
        deduplicate on `detail.id` + `detail.status`. Answer any 2xx to acknowledge; anything
        else, a timeout or a refused connection is retried with backoff.

        Local webhook headers: `X-Deepfake-Timestamp` (Unix seconds), `X-Deepfake-Signature`
        (`sha256=` + hex HMAC-SHA256, keyed with `DEEPFAKE_SERVICE_WEBHOOK_SECRET`, of the
        timestamp, a `.`, and the raw body; refuse a timestamp more than 5 minutes from your
        clock), `X-Deepfake-Event-Id` (the envelope's `id`, the same on every attempt),
        `X-Deepfake-Delivery-Attempt` (1, 2, ...). Cloud webhook (EventBridge API destination):
        `X-Deepfake-Webhook-Secret` carries the `WebhookSecret` template parameter."""
