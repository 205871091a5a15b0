"""Owners, deletion and the detect function's resilience on the local AWS stack (moto server, DynamoDB
Local): two users' tokens as the JWT authorizer passes them in Lambda events, through Mangum into
the cloud API; DELETE leaving nothing in S3 (no version, no delete marker) or DynamoDB (a bare
tombstone with the owner, so that the owner is told 410 result_deleted); a file that runs out of
time or kills the runtime failing alone; a dead-lettered file ending ``failed``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from deepfake_detect.api.app import create_app
from deepfake_detect.aws.adapters.stores import DynamoDBResultStore
from deepfake_detect.aws.handlers.dead_letters import make_dead_letter_handler
from deepfake_detect.aws.wiring import cloud_services, cloud_stores
from deepfake_detect.cli.results import delete_results
from deepfake_detect.core.result import Status
from deepfake_detect.settings import Settings
from infra.local.stack import LocalAwsStack, StackResources
from infra.local.worker import LambdaWorker
from tests.support.lambda_api import LambdaApi, LambdaClient, user_claims
from tests.support.local_stack import (
    FUNCTION_TIMEOUT_S,
    MakeWorker,
    SimulatedCrash,
    all_results,
    drain,
    put,
    queue_depth,
)

pytestmark = pytest.mark.integration

ALICE, BOB = "3e9a7c1d-alice", "8f2b6d4e-bob"


def upload(client: LambdaClient, path: Path, name: str) -> dict[str, Any]:
    """``POST /v1/uploads``, then the presigned POST straight to the bucket, as a client does."""
    answer = client.post("/v1/uploads", body={"filename": name, "content_type": "image/jpeg"})
    assert answer.status_code == 200, answer.content
    ticket: dict[str, Any] = answer.json()
    posted = httpx.post(
        ticket["url"], data=ticket["fields"], files={"file": (name, path.read_bytes(), "image/jpeg")}
    )
    assert posted.status_code in (200, 204), posted.text
    return ticket


def versions(stack: LocalAwsStack, bucket: str, prefix: str) -> list[str]:
    """Every stored version and delete marker under ``prefix``."""
    listed = stack.client("s3").list_object_versions(Bucket=bucket, Prefix=prefix)
    return [v["Key"] for v in listed.get("Versions", []) + listed.get("DeleteMarkers", [])]


def test_two_users_own_their_results_and_a_delete_leaves_nothing(
    aws_stack: LocalAwsStack,
    resources: StackResources,
    feedback_settings: Settings,
    make_worker: MakeWorker,
    face_photo: Path,
    couple_photo: Path,
) -> None:
    api = LambdaApi(create_app(feedback_settings, cloud_services(feedback_settings)))
    alice = api.as_user(user_claims(ALICE, "alice@example.com", "[reviewers]"))
    bob = api.as_user(user_claims(BOB, "bob@example.com", "[reviewers]"))
    mine = upload(alice, face_photo, "alice.jpg")
    theirs = upload(bob, couple_photo, "bob.jpg")
    worker, _ = make_worker()
    store = DynamoDBResultStore(aws_stack.client("dynamodb"), resources.results_table)
    drain(worker, lambda: {r.status for r in all_results(store)} == {Status.DONE})

    # The detect function kept the owner the API recorded; each list holds its owner's only.
    assert alice.get(mine["result_url"]).json()["owner"] == ALICE
    assert [r["id"] for r in alice.get("/v1/results").json()["items"]] == [mine["result_id"]]
    assert [r["id"] for r in bob.get("/v1/results").json()["items"]] == [theirs["result_id"]]
    # Bob cannot read, see the evidence of, label or delete Alice's: all 404, as for no result.
    # Her face's crop is stored in the bucket and served to her.
    crop = alice.get(f"{mine['result_url']}/faces/0.jpg")
    assert crop.status_code == 200 and crop.content[:2] == b"\xff\xd8"
    assert versions(aws_stack, resources.upload_bucket, f"evidence/{mine['result_id']}/faces/0.jpg")
    for response in (
        bob.get(mine["result_url"]),
        bob.get(f"{mine['result_url']}/evidence.jpg"),
        bob.get(f"{mine['result_url']}/faces/0.jpg"),
        bob.post(f"{mine['result_url']}/feedback", body={"label": "fake"}),
        bob.delete(mine["result_url"]),
    ):
        assert response.status_code == 404, response.content

    # Alice labels hers (a reviewer; the name is her token's) and the label is exported for
    # training, then she deletes the result.
    labelled = alice.post(f"{mine['result_url']}/feedback", body={"label": "real", "reviewer": "x"})
    assert labelled.status_code == 200 and labelled.json()["reviewer"] == "alice@example.com"
    channel_copy = f"training-data/feedback/media/{mine['result_id']}.jpg"
    aws_stack.client("s3").put_object(Bucket=resources.models_bucket, Key=channel_copy, Body=b"copy")
    evidence = alice.get(mine["result_url"]).json()["evidence"]["key"]
    assert versions(aws_stack, resources.upload_bucket, f"uploads/{mine['result_id']}/")
    assert versions(aws_stack, resources.upload_bucket, evidence)

    assert alice.delete(mine["result_url"]).status_code == 204
    # Her own deleted result is 410 result_deleted (the tombstone keeps its owner); Bob's 404.
    gone = alice.get(mine["result_url"])
    assert gone.status_code == 410 and gone.json()["detail"]["code"] == "result_deleted", gone.content
    assert bob.get(mine["result_url"]).status_code == 404
    assert alice.get("/v1/results").json()["items"] == []
    assert alice.delete(mine["result_url"]).status_code == 404
    # Nothing of the file is left: no object version or delete marker of the upload or the
    # evidence image, no training copy, no label, and in the table a tombstone without a document.
    assert versions(aws_stack, resources.upload_bucket, f"uploads/{mine['result_id']}") == []
    assert versions(aws_stack, resources.upload_bucket, f"evidence/{mine['result_id']}") == []
    assert versions(aws_stack, resources.upload_bucket, f"results/{mine['result_id']}") == []
    assert versions(aws_stack, resources.models_bucket, channel_copy) == []
    dynamodb = aws_stack.client("dynamodb")
    feedback = dynamodb.get_item(
        TableName=feedback_settings.aws.feedback_table, Key={"result_id": {"S": mine["result_id"]}}
    )
    assert "Item" not in feedback
    item = dynamodb.get_item(TableName=resources.results_table, Key={"id": {"S": mine["result_id"]}})["Item"]
    assert set(item) == {"id", "deleted_at", "expires_at", "deleted_owner"}
    assert item["deleted_owner"] == {"S": ALICE}
    # Bob's result and file are untouched.
    assert bob.get(theirs["result_url"]).json()["status"] == "done"
    assert versions(aws_stack, resources.upload_bucket, f"uploads/{theirs['result_id']}/")

    # An operator's `deepfake-detect delete --aws ID` removes it the same way, whoever owns it.
    _, results, deleter = cloud_stores(feedback_settings)
    assert delete_results([theirs["result_id"], "0" * 32], results, deleter) == 1  # one id unknown
    assert bob.get(theirs["result_url"]).status_code == 410
    for prefix in (f"uploads/{theirs['result_id']}", f"evidence/{theirs['result_id']}"):
        assert versions(aws_stack, resources.upload_bucket, prefix) == []


def test_a_result_deleted_before_its_file_arrives_is_never_scanned_back(
    aws_stack: LocalAwsStack,
    resources: StackResources,
    cloud_settings: Settings,
    make_worker: MakeWorker,
    face_photo: Path,
) -> None:
    alice = LambdaApi(create_app(cloud_settings, cloud_services(cloud_settings))).as_user(user_claims(ALICE))
    ticket = alice.post("/v1/uploads", body={"filename": "late.jpg", "content_type": "image/jpeg"}).json()
    assert alice.delete(ticket["result_url"]).status_code == 204  # still queued
    # The presigned POST is still valid: the file lands after its result was deleted.
    httpx.post(ticket["url"], data=ticket["fields"], files={"file": ("late.jpg", face_photo.read_bytes())})
    worker, _ = make_worker()
    drain(worker, lambda: queue_depth(aws_stack, resources.queue_url) == 0)
    # The scan found the tombstone: it wrote no record and removed the upload and its evidence;
    # the client polling its upload is told so (410 result_deleted), not "no such result".
    polled = alice.get(ticket["result_url"])
    assert polled.status_code == 410 and polled.json()["detail"]["code"] == "result_deleted"
    assert versions(aws_stack, resources.upload_bucket, f"uploads/{ticket['result_id']}") == []
    assert versions(aws_stack, resources.upload_bucket, f"evidence/{ticket['result_id']}") == []


def test_a_file_that_runs_out_of_time_fails_alone(
    aws_stack: LocalAwsStack, resources: StackResources, make_worker: MakeWorker, face_photo: Path
) -> None:
    keys = ["uploads/time/a.jpg", "uploads/time/slow.jpg", "uploads/time/b.jpg"]
    for key in keys:
        put(aws_stack, resources, key, face_photo.read_bytes())
    worker, counting = make_worker(slow_names=frozenset({"slow.jpg"}))
    store = DynamoDBResultStore(aws_stack.client("dynamodb"), resources.results_table)

    def finished() -> bool:
        states = {r.source["key"]: r.status for r in all_results(store)}
        return all(states.get(k) in (Status.DONE, Status.FAILED) for k in keys)

    invocations = []
    deadline = time.monotonic() + 90
    while not (finished() and queue_depth(aws_stack, resources.queue_url) == 0):
        assert time.monotonic() < deadline, "the files were not all finished"
        invocations.append(worker.poll_once())
    # Every invocation answered in time, with a partial batch response: none was killed.
    assert invocations and not any(i.crashed for i in invocations)
    results = {r.source["key"]: r for r in all_results(store)}
    assert results["uploads/time/a.jpg"].status is Status.DONE
    assert results["uploads/time/b.jpg"].status is Status.DONE
    slow = results["uploads/time/slow.jpg"]
    assert slow.status is Status.FAILED and slow.error is not None and slow.error.code.value == "scan_timeout"
    assert "slow:slow.jpg" in counting.scanned
    assert queue_depth(aws_stack, resources.dead_letter_queue_url) == 0


def test_a_file_that_kills_the_runtime_fails_alone_through_the_dead_letter_queue(
    aws_stack: LocalAwsStack,
    resources: StackResources,
    cloud_settings: Settings,
    make_worker: MakeWorker,
    face_photo: Path,
) -> None:
    keys = ["uploads/crash/a.jpg", "uploads/crash/poison.jpg", "uploads/crash/b.jpg"]
    for key in keys:
        put(aws_stack, resources, key, face_photo.read_bytes())
    worker, _ = make_worker(crash_names=frozenset({"poison.jpg"}))
    store = DynamoDBResultStore(aws_stack.client("dynamodb"), resources.results_table)
    crashes = 0

    def dead_lettered() -> bool:
        return queue_depth(aws_stack, resources.dead_letter_queue_url) >= 1

    def poll_through_crashes() -> None:
        nonlocal crashes
        try:
            worker.poll_once()
        except SimulatedCrash:
            crashes += 1

    deadline = time.monotonic() + 90
    while not (dead_lettered() and queue_depth(aws_stack, resources.queue_url) == 0):
        assert time.monotonic() < deadline, f"the poison never reached the DLQ ({crashes} crashes)"
        poll_through_crashes()
    states = {r.source["key"]: r.status for r in all_results(store)}
    # Its batch-mates were scanned although the poison killed every invocation it was in.
    assert states["uploads/crash/a.jpg"] is Status.DONE and states["uploads/crash/b.jpg"] is Status.DONE
    assert states["uploads/crash/poison.jpg"] is Status.PROCESSING and crashes >= 1

    # The dead-letter consumer, fed by the DLQ as Lambda's event source would, records it failed.
    consumer = LambdaWorker(
        aws_stack.client("sqs"),
        resources.dead_letter_queue_url,
        "arn:aws:sqs:us-east-1:000000000000:dlq",
        make_dead_letter_handler(cloud_settings),
        timeout_s=FUNCTION_TIMEOUT_S,
    )
    drain(consumer, lambda: queue_depth(aws_stack, resources.dead_letter_queue_url) == 0)
    results = {r.source["key"]: r for r in all_results(store)}
    poison = results["uploads/crash/poison.jpg"]
    assert poison.status is Status.FAILED and poison.error is not None
    assert poison.error.code.value == "internal_error"
    assert {r.status for r in results.values()} <= {Status.DONE, Status.FAILED}  # nothing left hanging
    assert results["uploads/crash/a.jpg"].status is Status.DONE  # a dead-lettered mate stays done
