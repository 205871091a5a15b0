"""The dead-letter consumer announces what it fails: a ``Scan Completed`` event (status failed) for
each result it records, none for one that had finished; the deployment's bus by default, and the
template lets the function put events on it (issue 24, item 5)."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext

from deepfake_detect.aws.handlers.dead_letters import make_dead_letter_handler
from deepfake_detect.core.result import DetectionResult, Status
from deepfake_detect.settings import AwsSettings, Settings
from infra.local.stack import load_template
from infra.local.worker import LocalLambdaContext
from tests.support.aws_fakes import InMemoryResults
from tests.support.sqs import BUCKET, failures, notification, sqs_record

STUCK_ID = "a" * 32
DONE_ID = "b" * 32


class RecordingEvents:
    """An EventBridge client that accepts every entry and keeps it."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803  (boto3's name)
        self.entries.extend(Entries)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": str(len(self.entries))}]}


def dead_letter(message_id: str, key: str) -> dict[str, Any]:
    record = sqs_record(message_id, notification(key))
    record["attributes"] = {"ApproximateReceiveCount": "5"}
    return record


def test_a_file_the_consumer_fails_emits_its_scan_completed_event(monkeypatch: pytest.MonkeyPatch) -> None:
    client = RecordingEvents()
    monkeypatch.setattr("deepfake_detect.aws.adapters.clients.events_client", lambda settings: client)
    settings = Settings(aws=AwsSettings(upload_bucket=BUCKET, event_bus_name="bus-1"))
    results = InMemoryResults()
    results.put(DetectionResult(id=STUCK_ID, path="a.mp4", status=Status.PROCESSING, owner="alice-sub"))
    results.put(DetectionResult(id=DONE_ID, path="b.jpg", status=Status.DONE, owner="bob-sub"))
    handler = make_dead_letter_handler(settings, results=results)  # the bus from the settings

    event = {
        "Records": [
            dead_letter("d0", f"uploads/{STUCK_ID}/a.mp4"),
            dead_letter("d1", f"uploads/{DONE_ID}/b.jpg"),  # finished before: no second event
        ]
    }
    context = LocalLambdaContext(function_name="dead-letters", timeout_s=30)
    assert failures(handler(event, cast(LambdaContext, context))) == []

    [entry] = client.entries
    assert entry["EventBusName"] == "bus-1" and entry["DetailType"] == "Scan Completed"
    detail = json.loads(entry["Detail"])
    assert detail["id"] == STUCK_ID and detail["status"] == "failed"
    assert detail["error_code"] == "internal_error" and detail["owner"] == "alice-sub"
    assert results.get(STUCK_ID).status is Status.FAILED  # type: ignore[union-attr]


def test_without_a_bus_the_consumer_still_fails_the_file() -> None:
    results = InMemoryResults()
    results.put(DetectionResult(id=STUCK_ID, path="a.mp4", status=Status.PROCESSING, owner="alice-sub"))
    handler = make_dead_letter_handler(Settings(aws=AwsSettings(upload_bucket=BUCKET)), results=results)
    assert handler.events is None
    context = LocalLambdaContext(function_name="dead-letters", timeout_s=30)
    event = {"Records": [dead_letter("d0", f"uploads/{STUCK_ID}/a.mp4")]}
    assert failures(handler(event, cast(LambdaContext, context))) == []
    assert results.get(STUCK_ID).status is Status.FAILED  # type: ignore[union-attr]


def test_the_template_lets_the_consumer_put_events_on_the_bus() -> None:
    consumer = load_template()["Resources"]["DeadLetterFunction"]["Properties"]
    assert consumer["Environment"]["Variables"]["DEEPFAKE_AWS_EVENT_BUS_NAME"] == {"Ref": "EventBus"}
    statements = consumer["Policies"][0]["Statement"]
    assert any(
        s["Action"] == ["events:PutEvents"] and s["Resource"] == {"Fn::GetAtt": ["EventBus", "Arn"]}
        for s in statements
    )
