"""Scan Completed on EventBridge: the entry the detect function puts, and the handler's hook (an
event per finished result; a refused event retries the message)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext

from deepfake_detect.aws.adapters.completions import (
    EventBridgePublisher,
    EventPublishError,
    eventbridge_publisher,
)
from deepfake_detect.aws.handlers.detect import DetectDependencies, make_detect_handler
from deepfake_detect.core.result import DetectionResult, Status
from deepfake_detect.settings import AwsSettings, LimitsSettings, Settings
from deepfake_detect.store.events import ScanCompletedDetail
from infra.local.worker import LocalLambdaContext
from tests.support.aws_fakes import FakeMedia, InMemoryPersistence, InMemoryResults, StubDetector
from tests.support.sqs import BUCKET, failures, notification, sqs_record


class StubEvents:
    """put_events that fails the first ``fail`` calls' entries."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.calls: list[list[dict[str, Any]]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803  (boto3's name)
        self.calls.append(Entries)
        if len(self.calls) <= self.fail:
            return {
                "FailedEntryCount": 1,
                "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}],
            }
        return {"FailedEntryCount": 0, "Entries": [{"EventId": f"e{len(self.calls)}"}]}


def handler_with(events: StubEvents, tmp_path: Path) -> tuple[Any, InMemoryResults, FakeMedia]:
    settings = Settings(aws=AwsSettings(upload_bucket=BUCKET), limits=LimitsSettings(max_upload_bytes=1000))
    media, results = FakeMedia(tmp_path), InMemoryResults()
    publisher = EventBridgePublisher(cast(Any, events), "bus-1")
    handler = make_detect_handler(
        settings,
        DetectDependencies(
            detector=StubDetector(),
            media=media,
            results=results,
            persistence=InMemoryPersistence(),
            events=publisher,
        ),
    )
    return handler, results, media


def invoke(handler: Any, *bodies: str) -> dict[str, Any]:
    event = {"Records": [sqs_record(f"m{i}", body) for i, body in enumerate(bodies)]}
    return cast(dict[str, Any], handler(event, cast(LambdaContext, LocalLambdaContext("detect", 30))))


def test_each_finished_result_puts_one_event_with_its_detail(tmp_path: Path, monkeypatch: Any) -> None:
    events = StubEvents()
    handler, results, media = handler_with(events, tmp_path)
    media.objects["uploads/a.jpg"] = b"image"
    media.objects["uploads/bad.jpg"] = b"bad bytes"
    assert failures(invoke(handler, notification("uploads/a.jpg"), notification("uploads/bad.jpg"))) == []
    # A redelivery is a no-op: no second event.
    assert failures(invoke(handler, notification("uploads/a.jpg"))) == []

    entries = [entry for call in events.calls for entry in call]
    assert len(entries) == 2
    for entry in entries:
        assert (entry["Source"], entry["DetailType"], entry["EventBusName"]) == (
            "deepfake-detect",
            "Scan Completed",
            "bus-1",
        )
    details = {d.path: d for d in (ScanCompletedDetail.model_validate_json(e["Detail"]) for e in entries)}
    done, failed = details["a.jpg"], details["bad.jpg"]
    stored = results.get(done.id)
    assert stored is not None and stored.status is Status.DONE
    assert (done.status, done.verdict, done.score, done.error_code) == ("done", "real", 0.1, None)
    assert (failed.status, failed.verdict, failed.error_code) == ("failed", "error", "corrupt_media")
    assert json.loads(entries[0]["Detail"])["result_url"] == f"/v1/results/{done.id}"


def test_an_event_the_bus_keeps_refusing_retries_the_message(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr("deepfake_detect.aws.adapters.completions.time.sleep", lambda s: None)
    events = StubEvents(fail=3)
    handler, results, media = handler_with(events, tmp_path)
    media.objects["uploads/a.jpg"] = b"image"
    assert failures(invoke(handler, notification("uploads/a.jpg"))) == ["m0"]  # back to the queue
    # The result was stored before the event was refused; the redelivery scans again (the
    # idempotency record was released), and its event goes out.
    [stored] = results.items.values()
    assert stored.status is Status.DONE
    assert failures(invoke(handler, notification("uploads/a.jpg"))) == []
    assert len(events.calls) == 4  # three refused, one accepted


def test_a_failed_entry_is_retried_before_giving_up(monkeypatch: Any) -> None:
    monkeypatch.setattr("deepfake_detect.aws.adapters.completions.time.sleep", lambda s: None)
    result = DetectionResult(path="a.jpg", status=Status.DONE)
    events = StubEvents(fail=2)
    EventBridgePublisher(cast(Any, events), "bus").publish(result)
    assert len(events.calls) == 3
    with pytest.raises(EventPublishError, match="InternalFailure"):
        EventBridgePublisher(cast(Any, StubEvents(fail=5)), "bus").publish(result)


def test_no_bus_no_publisher_and_unfinished_results_put_nothing() -> None:
    assert eventbridge_publisher(Settings(aws=AwsSettings(event_bus_name=""))) is None
    events = StubEvents()
    EventBridgePublisher(cast(Any, events), "bus").publish(DetectionResult(path="a", status=Status.QUEUED))
    assert events.calls == []
