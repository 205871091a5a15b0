"""Completion events in the cloud: the detect function puts a ``Scan Completed`` event on the
stack's EventBridge bus for every result it stores as ``done`` or ``failed`` (docs/events.md).

Rules on the bus route it on: the template's optional webhook (an API destination), or any rule
a deployment adds (a queue, a Lambda, Step Functions). A put that fails after the SDK's retries
raises, so the SQS message is retried and the event is not lost (at least once: a receiver
deduplicates on ``detail.id`` + ``detail.status``).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from deepfake_detect.core.result import DetectionResult
from deepfake_detect.settings import Settings
from deepfake_detect.store.events import DETAIL_TYPE, EVENT_SOURCE, completion_detail

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

log = logging.getLogger(__name__)


class EventPublishError(RuntimeError):
    """EventBridge refused the event after every retry: the message is retried (transient)."""


class EventBridgePublisher:
    """``CompletionPublisher`` on an EventBridge bus."""

    def __init__(self, client: EventBridgeClient, bus_name: str, *, attempts: int = 3) -> None:
        self.client = client
        self.bus_name = bus_name
        self.attempts = attempts

    def entry(self, result: DetectionResult) -> dict[str, Any] | None:
        """The ``PutEvents`` entry of a finished result; None for an unfinished one."""
        detail = completion_detail(result)
        if detail is None:
            return None
        return {
            "Source": EVENT_SOURCE,
            "DetailType": DETAIL_TYPE,
            "Detail": detail.model_dump_json(),
            "EventBusName": self.bus_name,
            "Time": detail.completed_at,
        }

    def publish(self, result: DetectionResult) -> None:
        entry = self.entry(result)
        if entry is None:
            return
        failure = ""
        for attempt in range(1, self.attempts + 1):
            # A whole-call error (throttling, network) is retried by the SDK itself; an entry
            # EventBridge accepted the call for but failed (InternalFailure) is retried here.
            response = self.client.put_events(Entries=[entry])  # type: ignore[list-item]
            if not response.get("FailedEntryCount"):
                return
            [failed] = response["Entries"]
            failure = f"{failed.get('ErrorCode', '?')}: {failed.get('ErrorMessage', '')}"
            log.warning("put_events failed (attempt %d): %s", attempt, failure)
            if attempt < self.attempts:
                time.sleep(0.2 * 2**attempt)
        raise EventPublishError(f"the Scan Completed event of {result.id} was not accepted: {failure}")


def eventbridge_publisher(settings: Settings) -> EventBridgePublisher | None:
    """The publisher the settings name a bus for; None without ``DEEPFAKE_AWS_EVENT_BUS_NAME``."""
    if not settings.aws.event_bus_name:
        return None
    from deepfake_detect.aws.adapters.clients import events_client

    return EventBridgePublisher(events_client(settings), settings.aws.event_bus_name)
