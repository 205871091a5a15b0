"""Issue 15 on the local AWS stack (moto server, DynamoDB Local, the real detect handler):
Scan Completed events on the bus, `scan --api` against the cloud API, and the backfill."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deepfake_detect.api.app import create_app
from deepfake_detect.aws.adapters.stores import DynamoDBResultStore
from deepfake_detect.aws.handlers.backfill import backfill_from_settings
from deepfake_detect.aws.wiring import cloud_services
from deepfake_detect.cli import main
from deepfake_detect.client import DeepfakeClient
from deepfake_detect.core.result import DetectionResult, Status
from deepfake_detect.settings import Settings
from infra.local.auth import DevJwtAuthorizer, dev_token
from infra.local.stack import LocalAwsStack, StackResources
from infra.local.worker import LambdaWorker
from tests.support.cli import cli_binary
from tests.support.live import serve_in_thread
from tests.support.local_stack import CountingDetector, MakeWorker, drain, put, queue_depth, results_store

pytestmark = pytest.mark.integration


def finished_by_key(store: DynamoDBResultStore) -> dict[str, DetectionResult]:
    """Every done or failed record, by its object key (a table scan: whoever owns them)."""
    ids: list[str] = []
    start = None
    while True:
        args: dict[str, Any] = {"TableName": store.table, "ProjectionExpression": "id"}
        if start:
            args["ExclusiveStartKey"] = start
        page = store.client.scan(**args)
        ids.extend(item["id"]["S"] for item in page["Items"])
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    records = [r for r in (store.get(i) for i in ids) if r is not None]
    return {r.source["key"]: r for r in records if r.status in (Status.DONE, Status.FAILED)}


def event_queue(stack: LocalAwsStack, resources: StackResources) -> str:
    """A rule on the stack's bus that sends every Scan Completed event to a queue (as a consumer
    of the events would set up); returns the queue's URL."""
    sqs, events = stack.client("sqs"), stack.client("events")
    url = sqs.create_queue(QueueName=f"scan-events-{resources.suffix}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name=f"scan-completed-{resources.suffix}",
        EventBusName=resources.event_bus_name,
        EventPattern=json.dumps({"source": ["deepfake-detect"], "detail-type": ["Scan Completed"]}),
    )
    events.put_targets(
        Rule=f"scan-completed-{resources.suffix}",
        EventBusName=resources.event_bus_name,
        Targets=[{"Id": "queue", "Arn": arn}],
    )
    return str(url)


def received_events(stack: LocalAwsStack, url: str) -> list[dict[str, Any]]:
    sqs, found = stack.client("sqs"), list[dict[str, Any]]()
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        if not messages.get("Messages"):
            return found
        for message in messages["Messages"]:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def detect_worker(make_worker: MakeWorker, **options: Any) -> tuple[LambdaWorker, CountingDetector]:
    """A worker whose invocations have a minute: these tests are about what happens after a
    scan, not about the time budget (conftest's short timeout is for the retry tests)."""
    worker, counting = make_worker(**options)
    worker.timeout_s = 60.0
    return worker, counting


@pytest.fixture
def running_worker(make_worker: MakeWorker) -> Iterator[Any]:
    """A detect "container" polling the queue in a thread, as Lambda's event source would."""
    worker, counting = detect_worker(make_worker)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    yield counting
    stop.set()
    thread.join(30)


def test_the_detect_worker_puts_a_scan_completed_event_per_finished_result(
    aws_stack: LocalAwsStack,
    resources: StackResources,
    make_worker: MakeWorker,
    face_photo: Path,
) -> None:
    events_url = event_queue(aws_stack, resources)
    put(aws_stack, resources, "uploads/pipeline/face.jpg", face_photo.read_bytes())
    put(aws_stack, resources, "uploads/pipeline/broken.jpg", face_photo.read_bytes()[:1500])
    worker, _ = detect_worker(make_worker)
    store = results_store(aws_stack, resources)
    drain(worker, lambda: len(finished_by_key(store)) == 2)

    events = received_events(aws_stack, events_url)
    assert len(events) == 2
    for event in events:
        assert (event["source"], event["detail-type"]) == ("deepfake-detect", "Scan Completed")
    details = {event["detail"]["path"]: event["detail"] for event in events}
    results = finished_by_key(store)
    face, broken = results["uploads/pipeline/face.jpg"], results["uploads/pipeline/broken.jpg"]
    done = details["face.jpg"]
    assert done["id"] == face.id and done["status"] == "done" and done["verdict"] == face.verdict
    assert done["score"] == face.score and done["threshold"] == face.threshold
    assert face.model is not None and done["model_version"] == face.model.version
    assert done["error_code"] is None and done["result_url"] == f"/v1/results/{face.id}"
    assert done["owner"] == face.owner  # the record's owner, whatever the deployment gives it
    failed = details["broken.jpg"]
    assert (failed["id"], failed["status"], failed["verdict"]) == (broken.id, "failed", "error")
    assert failed["error_code"] == "corrupt_media" and failed["score"] is None


def test_scan_through_the_cloud_api_uploads_polls_and_prints_like_a_local_scan(
    aws_stack: LocalAwsStack,
    resources: StackResources,
    cloud_settings: Settings,
    running_worker: Any,
    face_photo: Path,
    couple_photo: Path,
    tmp_path: Path,
) -> None:
    events_url = event_queue(aws_stack, resources)
    notes = tmp_path / "notes.jpg"
    notes.write_text("not an image")
    files = [str(face_photo), str(couple_photo), str(tmp_path / "missing.jpg"), str(notes)]
    token = dev_token("alice")
    app = DevJwtAuthorizer(create_app(cloud_settings, cloud_services(cloud_settings)))
    with serve_in_thread(app) as url:
        # The command as a user runs it: its own process, the token from the environment.
        env = {**os.environ, "DEEPFAKE_API_TOKEN": token}
        command = [cli_binary(), "scan", "--api", url, "--poll", "0.2"]
        table_run = subprocess.run([*command, *files], env=env, capture_output=True, text=True, timeout=300)
        assert table_run.returncode == 1, table_run.stderr  # two of the files cannot be scanned
        table = table_run.stdout.strip().splitlines()
        json_run = subprocess.run(
            [*command, "--json", str(face_photo)], env=env, capture_output=True, text=True, timeout=300
        )
        assert json_run.returncode == 0, json_run.stderr
        [line] = json_run.stdout.strip().splitlines()

        client = DeepfakeClient(url, token)
        assert client.mode == "cloud"
        mine = client.list_results(limit=10).items
        other = DeepfakeClient(url, dev_token("bob")).list_results(limit=10).items

    assert table[0].split()[:4] == ["verdict", "score", "detail", "credentials"]
    face_row, couple_row, missing_row, notes_row = table[1:]
    assert face_row.split()[0] in ("real", "inconclusive", "fake") and "1 face(s)" in face_row
    assert face_row.endswith(str(face_photo))
    assert couple_row.split()[0] in ("real", "inconclusive", "fake") and "2 face(s)" in couple_row
    assert missing_row.split()[:3] == ["error", "-", "not_found"]
    assert notes_row.split()[:3] == ["error", "-", "unsupported_type"]

    record = DetectionResult.model_validate_json(line)
    assert record.status is Status.DONE and record.path == str(face_photo) and len(record.faces) == 1
    assert record.provenance is not None and record.model is not None
    # In the API the records are alice's, under their uploaded names; bob sees none of them. The
    # second scan of face_photo sent the same Idempotency-Key and was answered with the first result.
    assert sorted(r.path for r in mine) == sorted([face_photo.name, couple_photo.name])
    assert record.id in {r.id for r in mine if r.path == face_photo.name}
    assert all(r.status is Status.DONE for r in mine) and other == []
    # Every finished upload was announced, with its owner.
    events = received_events(aws_stack, events_url)
    assert sorted(e["detail"]["id"] for e in events) == sorted(r.id for r in mine)
    assert {e["detail"]["owner"] for e in events} == {"alice"}
    assert queue_depth(aws_stack, resources.dead_letter_queue_url) == 0


def purge_notifications(stack: LocalAwsStack, resources: StackResources) -> None:
    """The objects were there before the notification: S3 never told the queue about them."""
    sqs = stack.client("sqs")
    while True:
        messages = sqs.receive_message(QueueUrl=resources.queue_url, MaxNumberOfMessages=10).get("Messages")
        if not messages:
            return
        for message in messages:
            sqs.delete_message(QueueUrl=resources.queue_url, ReceiptHandle=message["ReceiptHandle"])


def test_backfill_scans_objects_already_in_the_bucket_once(
    aws_stack: LocalAwsStack,
    resources: StackResources,
    cloud_settings: Settings,
    make_worker: MakeWorker,
    face_photo: Path,
    couple_photo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    keys = {
        "uploads/archive/one.jpg": face_photo.read_bytes(),
        "uploads/archive/two words.jpg": couple_photo.read_bytes(),
        "uploads/archive/three.jpg": face_photo.read_bytes(),
    }
    for key, data in keys.items():
        put(aws_stack, resources, key, data)
    purge_notifications(aws_stack, resources)
    store = results_store(aws_stack, resources)
    worker, counting = detect_worker(make_worker)
    state = tmp_path / "backfill.json"

    # Through the command, with the settings the deployment gives (DEEPFAKE_AWS_*).
    for name, value in aws_stack.environment(cloud_settings).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DEEPFAKE_AWS_DETECT_QUEUE_URL", resources.queue_url)
    monkeypatch.setenv("DEEPFAKE_AWS_RESULTS_TABLE", resources.results_table)
    from deepfake_detect.settings import get_settings

    get_settings.cache_clear()
    try:
        assert main(["backfill", "--prefix", "uploads/archive/", "--state", str(state), "--no-progress"]) == 0
        out = capsys.readouterr().out
        assert "listed 3, enqueued 3, skipped 0 already scanned" in out and "complete" in out
        drain(
            worker,
            lambda: (
                keys.keys() <= finished_by_key(store).keys()
                and queue_depth(aws_stack, resources.queue_url) == 0
            ),
        )
        assert sorted(counting.scanned) == ["one.jpg", "three.jpg", "two words.jpg"]
        assert {r.status for r in finished_by_key(store).values()} == {Status.DONE}

        # Again: every object has its result, nothing is enqueued, nothing is scanned.
        assert main(["backfill", "--prefix", "uploads/archive/", "--state", str(state), "--no-progress"]) == 0
        assert "listed 3, enqueued 0, skipped 3 already scanned" in capsys.readouterr().out
        assert queue_depth(aws_stack, resources.queue_url) == 0
        worker.poll_once()
        assert len(counting.scanned) == 3
    finally:
        get_settings.cache_clear()


def test_backfill_resumes_and_a_duplicate_message_is_still_one_scan(
    aws_stack: LocalAwsStack,
    resources: StackResources,
    cloud_settings: Settings,
    make_worker: MakeWorker,
    face_photo: Path,
    tmp_path: Path,
) -> None:
    for name in ("a", "b", "c"):
        put(aws_stack, resources, f"uploads/resume/{name}.jpg", face_photo.read_bytes())
    purge_notifications(aws_stack, resources)
    state = tmp_path / "state.json"
    first = backfill_from_settings(cloud_settings, prefix="uploads/resume/", state_path=state, limit=2).run()
    assert (first.enqueued, first.complete, first.last_key) == (2, False, "uploads/resume/b.jpg")
    # Interrupted before it checkpointed: the restart sends a and b again, then c.
    second = backfill_from_settings(cloud_settings, prefix="uploads/resume/", state_path=state, restart=True)
    assert second.run().enqueued == 3
    worker, counting = detect_worker(make_worker, batch_size=1)  # the copies never share a batch
    store = results_store(aws_stack, resources)
    drain(worker, lambda: queue_depth(aws_stack, resources.queue_url) == 0)
    assert sorted(counting.scanned) == ["a.jpg", "b.jpg", "c.jpg"]  # idempotency: once each
    assert len([k for k in finished_by_key(store) if k.startswith("uploads/resume/")]) == 3
