"""The detect handler over in-memory fakes: batch failures, idempotency, permanent vs transient errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from deepfake_detect.aws.detect import DetectDependencies, make_detect_handler
from deepfake_detect.aws.events import ObjectRef, result_id_for
from deepfake_detect.core.result import Status
from deepfake_detect.settings import AwsSettings, LimitsSettings, Settings
from infra.local.worker import LocalLambdaContext
from tests.unit.aws.fakes import FakeMedia, InMemoryPersistence, InMemoryResults, StubDetector

BUCKET = "media-bucket"


class Harness:
    def __init__(self, tmp_path: Path, max_upload_bytes: int = 1000) -> None:
        self.settings = Settings(
            aws=AwsSettings(upload_bucket=BUCKET), limits=LimitsSettings(max_upload_bytes=max_upload_bytes)
        )
        self.media = FakeMedia(tmp_path)
        self.results = InMemoryResults()
        self.detector = StubDetector()
        self.persistence = InMemoryPersistence()
        self.handler = make_detect_handler(
            self.settings,
            DetectDependencies(
                detector=self.detector, media=self.media, results=self.results, persistence=self.persistence
            ),
        )

    def invoke(self, *bodies: str) -> dict[str, Any]:
        event = {"Records": [sqs_record(f"m{i}", body) for i, body in enumerate(bodies)]}
        context = LocalLambdaContext(function_name="detect-test", timeout_s=30)
        return self.handler(event, cast(LambdaContext, context))

    def result_for(self, key: str) -> Any:
        return self.results.get(result_id_for(ObjectRef(BUCKET, key, etag="e1"), "uploads/"))


def sqs_record(message_id: str, body: str) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"r-{message_id}",
        "body": body,
        "attributes": {},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:detect",
        "awsRegion": "us-east-1",
    }


def notification(key: str, size: int = 5) -> str:
    return json.dumps(
        {
            "Records": [
                {
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "eventTime": "2026-11-26T23:00:00.000Z",
                    "s3": {"bucket": {"name": BUCKET}, "object": {"key": key, "size": size, "eTag": "e1"}},
                }
            ]
        }
    )


def failures(response: dict[str, Any]) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    return Harness(tmp_path)


def test_a_file_is_scanned_and_its_result_and_evidence_stored(harness: Harness) -> None:
    harness.media.objects["uploads/a.jpg"] = b"image"
    assert failures(harness.invoke(notification("uploads/a.jpg"))) == []
    result = harness.result_for("uploads/a.jpg")
    assert result.status is Status.DONE and result.path == "a.jpg"
    assert result.source["key"] == "uploads/a.jpg" and result.source["bucket"] == BUCKET
    assert harness.media.objects[result.evidence.key][:3] == b"\xff\xd8\xff"


def test_a_redelivered_notification_writes_nothing(harness: Harness) -> None:
    harness.media.objects["uploads/a.jpg"] = b"image"
    harness.invoke(notification("uploads/a.jpg"))
    writes = dict(harness.results.writes)
    # Again in a later batch, and twice within one batch.
    assert failures(harness.invoke(notification("uploads/a.jpg"))) == []
    assert failures(harness.invoke(notification("uploads/a.jpg"), notification("uploads/a.jpg"))) == []
    assert harness.detector.calls == ["a.jpg"]
    assert dict(harness.results.writes) == writes


def test_a_corrupt_file_is_a_failed_result_and_the_batch_goes_on(harness: Harness) -> None:
    harness.media.objects.update({"uploads/good.jpg": b"image", "uploads/bad.jpg": b"bad bytes"})
    response = harness.invoke(notification("uploads/bad.jpg"), notification("uploads/good.jpg"))
    assert failures(response) == []  # permanent: recorded, not retried
    bad = harness.result_for("uploads/bad.jpg")
    assert bad.status is Status.FAILED and bad.error.code.value == "corrupt_media"
    assert harness.result_for("uploads/good.jpg").status is Status.DONE


def test_an_oversized_object_fails_without_being_downloaded(harness: Harness) -> None:
    harness.media.objects["uploads/big.mp4"] = b"x"
    assert failures(harness.invoke(notification("uploads/big.mp4", size=5000))) == []
    result = harness.result_for("uploads/big.mp4")
    assert result.status is Status.FAILED and result.error.code.value == "file_too_large"
    assert "5000" in result.error.message
    assert harness.media.downloads == [] and harness.detector.calls == []


def test_an_object_deleted_before_the_scan_is_a_failed_result(harness: Harness) -> None:
    assert failures(harness.invoke(notification("uploads/gone.jpg"))) == []
    assert harness.result_for("uploads/gone.jpg").error.code.value == "not_found"


def test_a_transient_error_fails_only_its_message_and_is_retried_later(harness: Harness) -> None:
    harness.media.objects.update({"uploads/a.jpg": b"image", "uploads/b.jpg": b"image"})
    harness.media.failures["uploads/b.jpg"] = ClientError(
        {"Error": {"Code": "SlowDown", "Message": "slow"}}, "GetObject"
    )
    response = harness.invoke(notification("uploads/a.jpg"), notification("uploads/b.jpg"))
    assert failures(response) == ["m1"]
    assert harness.result_for("uploads/a.jpg").status is Status.DONE
    assert harness.result_for("uploads/b.jpg").status is Status.PROCESSING
    # The redelivery, once S3 recovers, scans it: the failed attempt left no idempotency record.
    del harness.media.failures["uploads/b.jpg"]
    assert failures(harness.invoke(notification("uploads/b.jpg"))) == []
    assert harness.result_for("uploads/b.jpg").status is Status.DONE
    assert harness.detector.calls == ["a.jpg", "b.jpg"]


@pytest.mark.parametrize("body", ["not json", '{"hello": "world"}'])
def test_a_message_that_is_not_an_s3_notification_fails_toward_the_dlq(harness: Harness, body: str) -> None:
    assert failures(harness.invoke(body, notification("uploads/none.jpg"))) == ["m0"]


def test_the_s3_test_event_is_acknowledged_and_ignored(harness: Harness) -> None:
    body = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET})
    assert failures(harness.invoke(body)) == []
    assert harness.results.items == {} and harness.detector.calls == []


def test_the_queued_record_keeps_its_creation_time(harness: Harness) -> None:
    from deepfake_detect.core.result import DetectionResult

    upload_id = "0123456789abcdef0123456789abcdef"
    queued = DetectionResult(id=upload_id, path="a.jpg", status=Status.QUEUED)
    harness.results.put(queued)
    harness.media.objects[f"uploads/{upload_id}/a.jpg"] = b"image"
    harness.invoke(notification(f"uploads/{upload_id}/a.jpg"))
    done = harness.results.get(upload_id)
    assert done is not None and done.status is Status.DONE and done.created_at == queued.created_at
