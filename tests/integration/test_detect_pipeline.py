"""Issue 4's scenarios on the local AWS stack: bucket -> notification -> queue -> detect handler ->
DynamoDB -> API, against real moto server and DynamoDB Local processes."""

from __future__ import annotations

import json
import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from deepfake_detect.api.app import create_app
from deepfake_detect.aws.adapters.stores import DynamoDBResultStore
from deepfake_detect.aws.wiring import cloud_services
from deepfake_detect.core.result import DetectionResult, MediaKind, Status, Verdict
from deepfake_detect.settings import PROJECT_ROOT, Settings
from infra.local.stack import LocalAwsStack, StackResources
from tests.support.lambda_api import LambdaApi, user_claims
from tests.support.local_stack import (
    MakeWorker,
    SimulatedCrash,
    all_results,
    drain,
    put,
    queue_depth,
    results_store,
)
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration


def finished_by_key(store: DynamoDBResultStore) -> dict[str, DetectionResult]:
    return {r.source["key"]: r for r in all_results(store) if r.status in (Status.DONE, Status.FAILED)}


def test_image_and_video_end_to_end_through_the_api(
    aws_stack: LocalAwsStack,
    resources: StackResources,
    cloud_settings: Settings,
    worker_processes: Any,
    face_photo: Path,
    real_video: Path,
) -> None:
    # The API as Lambda runs it: HTTP API events with the JWT authorizer's claims, through Mangum.
    # A pipeline's files belong to the pipeline's own user.
    settings = cloud_settings.updated({"aws.pipeline_owner": "pipeline-sub"})
    lambda_api = LambdaApi(create_app(settings, cloud_services(settings)))
    api, pipeline = (
        lambda_api.as_user(user_claims("alice-sub")),
        lambda_api.as_user(user_claims("pipeline-sub")),
    )
    assert api.get("/health").json()["mode"] == "cloud"
    upload = api.post("/v1/uploads", body={"filename": "my portrait.jpg", "content_type": "image/jpeg"})
    assert upload.status_code == 200, upload.content
    ticket = upload.json()
    assert api.get(ticket["result_url"]).json()["status"] == "queued"
    # The client uploads straight to the bucket with the presigned POST.
    posted = httpx.post(
        ticket["url"],
        data=ticket["fields"],
        files={"file": ("my portrait.jpg", face_photo.read_bytes(), "image/jpeg")},
    )
    assert posted.status_code in (200, 204), posted.text
    # A pipeline drops a video in; the space in its key arrives URL-encoded in the event.
    video_key = "uploads/pipeline/talking head.mp4"
    put(aws_stack, resources, video_key, real_video.read_bytes())

    # imports functions/detect/app.py, as a Lambda container does (with the pipeline owner)
    worker_processes(1, {"DEEPFAKE_AWS_PIPELINE_OWNER": "pipeline-sub"})
    store = results_store(aws_stack, resources)
    wait_until(
        lambda: {ticket["key"], video_key} <= finished_by_key(store).keys(),
        "the image and the video to be scanned",
        timeout_s=120,
        poll_s=0.2,
    )

    image = api.get(ticket["result_url"]).json()
    assert image["status"] == "done", image
    assert image["id"] == ticket["result_id"] and image["owner"] == "alice-sub"
    assert image["media_kind"] == "image" and image["verdict"] in ("real", "inconclusive", "fake")
    assert len(image["faces"]) == 1
    assert image["model"]["name"] == "tiny-test-classifier"
    # Provenance was read in the Lambda and stored with the record: a plain JPEG declares nothing.
    assert image["provenance"] is not None and image["provenance"]["declared_ai"] is False
    assert image["verdict_reason"] is None and image["classifier_verdict"] == image["verdict"]
    evidence = api.get(f"{ticket['result_url']}/evidence.jpg")
    assert evidence.status_code == 200 and evidence.content[:3] == b"\xff\xd8\xff"

    video = finished_by_key(store)[video_key]
    assert video.status is Status.DONE and video.media_kind is MediaKind.VIDEO
    assert video.path == "talking head.mp4"
    assert video.frames_sampled == cloud_settings.video.sample_frames
    assert video.tracks and video.verdict in (Verdict.REAL, Verdict.INCONCLUSIVE, Verdict.FAKE)
    assert video.owner == "pipeline-sub"

    # The rows are in DynamoDB, and the API lists each owner's newest first, a page at a time.
    raw = aws_stack.client("dynamodb").get_item(
        TableName=resources.results_table, Key={"id": {"S": ticket["result_id"]}}
    )["Item"]
    assert raw["status"]["S"] == "done" and int(raw["expires_at"]["N"]) > time.time()
    assert raw["owner"]["S"] == "alice-sub"
    extra = api.post("/v1/uploads", body={"filename": "later.jpg", "content_type": "image/jpeg"}).json()
    first = api.get("/v1/results", query={"limit": 1}).json()
    second = api.get("/v1/results", query={"limit": 1, "token": first["next_token"]}).json()
    assert [first["items"][0]["id"], second["items"][0]["id"]] == [extra["result_id"], ticket["result_id"]]
    assert second["next_token"] is None
    assert [r["id"] for r in pipeline.get("/v1/results").json()["items"]] == [video.id]
    # Every sampled frame's thumbnail is in the bucket, served to the video's owner only.
    assert all(f.thumbnail is not None for f in video.frames)
    for frame in video.frames:
        picture = pipeline.get(f"/v1/results/{video.id}/frames/{frame.frame_index}.jpg")
        assert picture.status_code == 200 and picture.content[:2] == b"\xff\xd8", frame
    assert api.get(f"/v1/results/{video.id}/frames/{video.frames[0].frame_index}.jpg").status_code == 404
    assert api.get("/v1/results", query={"token": "garbage"}).status_code == 400
    assert api.get("/v1/model").json()["name"] == "tiny-test-classifier"


def test_a_corrupt_file_fails_alone_and_the_batch_goes_on(
    aws_stack: LocalAwsStack,
    resources: StackResources,
    make_worker: MakeWorker,
    face_photo: Path,
    couple_photo: Path,
) -> None:
    keys = {
        "uploads/batch/one.jpg": face_photo.read_bytes(),
        "uploads/batch/broken.jpg": face_photo.read_bytes()[:1500],  # a truncated JPEG
        "uploads/batch/two.jpg": couple_photo.read_bytes(),
    }
    for key, data in keys.items():
        put(aws_stack, resources, key, data)
    worker, _ = make_worker()
    invocation = worker.poll_once()
    assert invocation.received >= 3 and invocation.failed == 0 and not invocation.crashed
    store = results_store(aws_stack, resources)
    drain(worker, lambda: keys.keys() <= finished_by_key(store).keys())
    results = finished_by_key(store)
    broken = results["uploads/batch/broken.jpg"]
    assert broken.status is Status.FAILED and broken.error is not None
    assert broken.error.code.value == "corrupt_media"
    assert broken.provenance is not None  # read before the decode failed, and kept
    assert results["uploads/batch/one.jpg"].status is Status.DONE
    assert len(results["uploads/batch/two.jpg"].faces) == 2
    # A bad file is a permanent failure: recorded, not retried, never in the dead-letter queue.
    assert queue_depth(aws_stack, resources.queue_url) == 0
    assert queue_depth(aws_stack, resources.dead_letter_queue_url) == 0


def test_a_notification_delivered_twice_gives_one_result(
    aws_stack: LocalAwsStack,
    resources: StackResources,
    make_worker: MakeWorker,
    face_photo: Path,
) -> None:
    sqs = aws_stack.client("sqs")
    key = "uploads/dup/face.jpg"
    put(aws_stack, resources, key, face_photo.read_bytes())
    notification = None
    while notification is None:  # skip the s3:TestEvent sent when the notification was set up
        for message in sqs.receive_message(
            QueueUrl=resources.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", []):
            if "Records" in json.loads(message["Body"]):
                notification = message
    # SQS at-least-once delivery: the same body arrives again, in the same or a later batch.
    sqs.send_message(QueueUrl=resources.queue_url, MessageBody=notification["Body"])
    sqs.change_message_visibility(
        QueueUrl=resources.queue_url, ReceiptHandle=notification["ReceiptHandle"], VisibilityTimeout=0
    )
    worker, counting = make_worker(batch_size=1)  # one per invocation: the copies never share a batch
    drain(worker, lambda: queue_depth(aws_stack, resources.queue_url) == 0)

    assert counting.scanned == ["face.jpg"]
    results = [r for r in all_results(results_store(aws_stack, resources)) if r.source.get("key") == key]
    assert len(results) == 1 and results[0].status is Status.DONE
    versions = aws_stack.client("s3").list_object_versions(Bucket=resources.upload_bucket, Prefix="evidence/")
    # The evidence image and the face's crop were each written once, not twice.
    keys = sorted(v["Key"] for v in versions.get("Versions", []))
    result_id = results[0].id
    assert keys == [f"evidence/{result_id}.jpg", f"evidence/{result_id}/faces/0.jpg"]
    records = aws_stack.client("dynamodb").scan(TableName=resources.idempotency_table)["Items"]
    assert [r["status"]["S"] for r in records] == ["COMPLETED"]


def test_a_crash_mid_batch_redelivers_and_each_file_is_done_once(
    aws_stack: LocalAwsStack,
    resources: StackResources,
    make_worker: MakeWorker,
    face_photo: Path,
    couple_photo: Path,
) -> None:
    files = {
        "uploads/crash/a.jpg": face_photo.read_bytes(),
        "uploads/crash/b.jpg": couple_photo.read_bytes(),
        "uploads/crash/c.jpg": face_photo.read_bytes(),
    }
    for key, data in files.items():
        put(aws_stack, resources, key, data)
    crashing, first = make_worker(crash_on=2)
    with pytest.raises(SimulatedCrash):
        for _ in range(10):
            crashing.poll_once()
    assert len(first.scanned) == 2 and first.scanned[1].startswith("crash:")
    done_before_crash = first.scanned[0]
    store = results_store(aws_stack, resources)
    assert len(finished_by_key(store)) == 1  # the crashed and the unstarted file are not done

    # A new container picks up the batch once the messages are visible again.
    fresh, second = make_worker()
    drain(
        fresh,
        lambda: (
            files.keys() <= finished_by_key(store).keys() and queue_depth(aws_stack, resources.queue_url) == 0
        ),
    )
    assert done_before_crash not in second.scanned  # the finished file was not scanned again
    assert sorted(first.scanned[:1] + second.scanned) == ["a.jpg", "b.jpg", "c.jpg"]
    results = [r for r in all_results(store) if r.source.get("key", "").startswith("uploads/crash/")]
    assert len(results) == 3 and {r.status for r in results} == {Status.DONE}


def test_a_message_that_is_not_an_s3_event_ends_in_the_dead_letter_queue(
    aws_stack: LocalAwsStack,
    resources: StackResources,
    make_worker: MakeWorker,
) -> None:
    aws_stack.client("sqs").send_message(QueueUrl=resources.queue_url, MessageBody="not json")
    worker, _ = make_worker()
    drain(worker, lambda: queue_depth(aws_stack, resources.dead_letter_queue_url) == 1, timeout_s=60)
    assert queue_depth(aws_stack, resources.queue_url) == 0


@pytest.mark.slow
def test_200_files_give_200_results_none_lost_none_twice(
    aws_stack: LocalAwsStack,
    resources: StackResources,
    cloud_settings: Settings,
    worker_processes: Any,
    shared_data: Path,
) -> None:
    faces = sorted((shared_data / "utkface").glob("*.jpg"))
    sources = random.Random(4).sample(faces, 200)  # 200x200 real faces: small files
    keys = {f"uploads/load/{i:03d}-{path.name}": path for i, path in enumerate(sources)}
    workers = 2  # one per core of the CI machine
    worker_processes(workers)  # returns once the "containers" have finished their cold start
    store = results_store(aws_stack, resources)
    dynamodb = aws_stack.client("dynamodb")

    def finished() -> int:
        count, start_key = 0, None
        while True:
            args: dict[str, Any] = {
                "TableName": resources.results_table,
                "Select": "COUNT",
                "FilterExpression": "#s IN (:d, :f)",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": {":d": {"S": "done"}, ":f": {"S": "failed"}},
            }
            if start_key:
                args["ExclusiveStartKey"] = start_key
            page = dynamodb.scan(**args)
            count += int(page["Count"])
            start_key = page.get("LastEvaluatedKey")
            if not start_key:
                return count

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda item: put(aws_stack, resources, item[0], item[1].read_bytes()), keys.items()))
    wait_until(lambda: finished() >= 200, "200 results", timeout_s=240, poll_s=0.5)
    elapsed = time.monotonic() - started

    results = all_results(store)
    assert len(results) == 200 and len({r.id for r in results}) == 200
    assert {r.source["key"] for r in results} == set(keys)
    assert {r.status for r in results} == {Status.DONE}
    assert queue_depth(aws_stack, resources.dead_letter_queue_url) == 0
    assert dynamodb.scan(TableName=resources.idempotency_table, Select="COUNT")["Count"] == 200
    throughput = {
        "files": 200,
        "workers": workers,
        "seconds": round(elapsed, 2),
        "files_per_second": round(200 / elapsed, 2),
        "faces": sum(len(r.faces) for r in results),
        "median_total_ms": sorted(r.timings_ms.get("total", 0.0) for r in results)[100],
    }
    artifacts = PROJECT_ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "integration-throughput.json").write_text(json.dumps(throughput, indent=2) + "\n")
    print(f"\nthroughput on the local stack: {throughput}")
