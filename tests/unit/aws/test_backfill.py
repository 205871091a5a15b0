"""Backfill over moto in process: the messages are S3's own notifications, finished objects are
skipped, the checkpoint resumes, the time window and the prefix hold."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from deepfake_detect.aws.adapters.s3_events import ObjectRef, parse_sqs_body, result_id_for
from deepfake_detect.aws.handlers.backfill import Backfill, BackfillError, Checkpoint, s3_notification
from deepfake_detect.core.result import DetectionResult, Status
from deepfake_detect.settings import AwsSettings, Settings
from tests.support.aws_fakes import InMemoryResults

BUCKET = "uploads-bucket"


def test_the_message_is_an_s3_notification_the_handler_reads_back() -> None:
    key = "uploads/holiday 2024/Ünïcode+plus & more.jpg"
    body = s3_notification(
        BUCKET,
        key,
        region="eu-west-1",
        size=1234,
        etag='"abc123"',
        version_id="v-1",
        event_time="2026-01-02T03:04:05.000Z",
    )
    record = json.loads(body)["Records"][0]
    assert record["eventSource"] == "aws:s3" and record["eventName"] == "ObjectCreated:Put"
    assert " " not in record["s3"]["object"]["key"]  # URL-encoded, as S3 sends it
    [ref] = parse_sqs_body(body)
    assert (ref.bucket, ref.key, ref.version_id, ref.etag, ref.size) == (BUCKET, key, "v-1", "abc123", 1234)
    # The revision the idempotency key and the result id use: the version id, as in S3's message.
    assert ref.revision == "v-1"
    assert result_id_for(ref, "uploads/") == result_id_for(
        ObjectRef(BUCKET, key, version_id="v-1", etag="anything"), "uploads/"
    )
    unversioned = parse_sqs_body(
        s3_notification(BUCKET, key, region="r", size=1, etag="e", version_id=None, event_time="t")
    )[0]
    assert unversioned.revision == "e"


@pytest.fixture
def aws() -> Iterator[tuple[Any, Any, str]]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        queue_url = sqs.create_queue(QueueName="detect")["QueueUrl"]
        yield s3, sqs, queue_url


def drain(sqs: Any, queue_url: str) -> list[str]:
    keys: list[str] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return keys
        for message in messages:
            keys.extend(ref.key for ref in parse_sqs_body(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def job(aws: tuple[Any, Any, str], tmp_path: Path, results: Any = None, **options: Any) -> Backfill:
    s3, sqs, queue_url = aws
    settings = Settings(aws=AwsSettings(upload_bucket=BUCKET, region="us-east-1"), data_dir=tmp_path)
    return Backfill(
        settings,
        s3,
        sqs,
        results,
        bucket=BUCKET,
        prefix=options.pop("prefix", "uploads/"),
        queue_url=queue_url,
        state_path=tmp_path / "state.json",
        **options,
    )


def put(s3: Any, key: str, data: bytes = b"data") -> dict[str, Any]:
    return dict(s3.put_object(Bucket=BUCKET, Key=key, Body=data))


def test_every_current_object_under_the_prefix_is_enqueued_once(aws: Any, tmp_path: Path) -> None:
    s3, sqs, queue_url = aws
    keys = [f"uploads/{name}.jpg" for name in "abcdefghijklm"]  # 13: two batches
    for key in keys:
        put(s3, key)
    put(s3, "uploads/b.jpg", b"newer")  # a second version: only the current one
    put(s3, "evidence/x.jpg")  # never scanned
    put(s3, "uploads/gone.jpg")
    s3.delete_object(Bucket=BUCKET, Key="uploads/gone.jpg")  # a delete marker: skipped
    report = job(aws, tmp_path).run()
    assert report.complete and report.enqueued == 13 and report.listed == 13
    assert sorted(drain(sqs, queue_url)) == keys
    state = Checkpoint.model_validate_json((tmp_path / "state.json").read_text())
    assert state.complete and state.last_key == "uploads/m.jpg"


def test_objects_with_a_finished_result_for_this_revision_are_skipped(aws: Any, tmp_path: Path) -> None:
    s3, sqs, queue_url = aws
    done = put(s3, "uploads/done.jpg")
    put(s3, "uploads/new.jpg")
    changed = put(s3, "uploads/changed.jpg")
    results = InMemoryResults()
    for key, answer, status in (
        ("uploads/done.jpg", done, Status.DONE),
        ("uploads/changed.jpg", changed, Status.DONE),
    ):
        ref = ObjectRef(BUCKET, key, version_id=answer["VersionId"], etag=answer["ETag"])
        source = {"key": key, "version_id": answer["VersionId"], "etag": answer["ETag"]}
        results.put(
            DetectionResult(id=result_id_for(ref, "uploads/"), path=key, status=status, source=source)
        )
    put(s3, "uploads/changed.jpg", b"a new revision")  # its done result is for the old one
    # A result recorded from an ETag-only notification (an emulator's, or before versioning).
    etag_only = put(s3, "uploads/etag.jpg")
    ref = ObjectRef(BUCKET, "uploads/etag.jpg", etag=etag_only["ETag"].strip('"'))
    results.put(
        DetectionResult(
            id=result_id_for(ref, "uploads/"),
            path="etag.jpg",
            status=Status.FAILED,
            source={"key": "uploads/etag.jpg", "etag": etag_only["ETag"].strip('"')},
        )
    )
    report = job(aws, tmp_path, results).run()
    assert sorted(drain(sqs, queue_url)) == ["uploads/changed.jpg", "uploads/new.jpg"]
    assert report.skipped_finished == 2


def test_a_stopped_run_resumes_after_its_last_key_and_a_finished_one_starts_over(
    aws: Any, tmp_path: Path
) -> None:
    s3, sqs, queue_url = aws
    for name in "abcde":
        put(s3, f"uploads/{name}.jpg")
    first = job(aws, tmp_path, limit=2).run()
    assert not first.complete and first.enqueued == 2 and first.last_key == "uploads/b.jpg"
    assert sorted(drain(sqs, queue_url)) == ["uploads/a.jpg", "uploads/b.jpg"]
    second = job(aws, tmp_path).run()
    assert second.resumed_after == "uploads/b.jpg" and second.complete
    assert sorted(drain(sqs, queue_url)) == ["uploads/c.jpg", "uploads/d.jpg", "uploads/e.jpg"]
    # Finished: the next run starts from the beginning (finished results are what skip then).
    third = job(aws, tmp_path).run()
    assert third.resumed_after is None and third.enqueued == 5
    drain(sqs, queue_url)
    # --restart ignores an unfinished checkpoint; another job's checkpoint is never resumed.
    job(aws, tmp_path, limit=1).run()
    drain(sqs, queue_url)
    assert job(aws, tmp_path, restart=True).run().enqueued == 5
    drain(sqs, queue_url)
    job(aws, tmp_path, limit=1).run()
    drain(sqs, queue_url)
    other = job(aws, tmp_path, prefix="uploads/c").run()
    assert other.resumed_after is None and drain(sqs, queue_url) == ["uploads/c.jpg"]


def test_the_time_window_and_a_dry_run(aws: Any, tmp_path: Path) -> None:
    s3, sqs, queue_url = aws
    put(s3, "uploads/a.jpg")
    now = datetime.now(UTC)
    assert job(aws, tmp_path, since=now + timedelta(hours=1)).run().skipped_outside_window == 1
    assert job(aws, tmp_path, until=now - timedelta(hours=1)).run().enqueued == 0
    naive = (now - timedelta(hours=1)).replace(tzinfo=None)  # no zone: UTC
    assert job(aws, tmp_path, since=naive, until=now + timedelta(hours=1)).run().enqueued == 1
    drain(sqs, queue_url)
    (tmp_path / "state.json").unlink()
    dry = job(aws, tmp_path, dry_run=True).run()
    assert dry.keys == ["uploads/a.jpg"] and drain(sqs, queue_url) == []
    assert not (tmp_path / "state.json").exists()


def test_a_prefix_outside_the_uploads_is_refused(aws: Any, tmp_path: Path) -> None:
    with pytest.raises(BackfillError, match="outside the scanned uploads"):
        job(aws, tmp_path, prefix="evidence/")
