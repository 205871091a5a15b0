"""``POST /v1/uploads`` with an ``Idempotency-Key`` on the local AWS stack: the key's claim is a
conditional write in DynamoDB Local (the template's idempotency table), the presigned POST goes
to the moto bucket and the real detect handler scans it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from deepfake_detect.api.app import create_app
from deepfake_detect.aws.adapters.stores import DynamoDBResultStore
from deepfake_detect.aws.adapters.uploads import DynamoDBUploadKeys, S3UploadSigner
from deepfake_detect.aws.wiring import cloud_services
from deepfake_detect.core.result import Status
from deepfake_detect.settings import Settings
from infra.local.stack import LocalAwsStack, StackResources
from tests.support.lambda_api import LambdaApi, LambdaClient, LambdaResponse, user_claims
from tests.support.local_stack import MakeWorker, all_results, drain, queue_depth

pytestmark = pytest.mark.integration

ALICE = "5c1d9e3a-alice"


class Api:
    def __init__(self, settings: Settings) -> None:
        services = cloud_services(settings)
        assert isinstance(services.uploads, S3UploadSigner)
        assert isinstance(services.uploads.keys, DynamoDBUploadKeys)  # the template's table
        self.signer = services.uploads
        self.alice: LambdaClient = LambdaApi(create_app(settings, services)).as_user(user_claims(ALICE))

    def upload(self, key: str, name: str = "face.jpg", size: int | None = None) -> LambdaResponse:
        body: dict[str, Any] = {"filename": name, "content_type": "image/jpeg"}
        if size is not None:
            body["size"] = size
        return self.alice.post("/v1/uploads", body=body, headers={"Idempotency-Key": key})


def _post_file(ticket: dict[str, Any], data: bytes) -> None:
    files = {"file": ("face.jpg", data, "image/jpeg")}
    posted = httpx.post(ticket["url"], data=ticket["fields"], files=files)
    assert posted.status_code in (200, 204), posted.text


def test_two_requests_with_one_key_make_one_upload_through_a_conditional_write(
    aws_stack: LocalAwsStack, resources: StackResources, cloud_settings: Settings
) -> None:
    api = Api(cloud_settings)
    answers: list[LambdaResponse] = []

    def second_request() -> None:  # runs whole between the first's record and its claim
        api.signer.before_claim = None
        answers.append(api.upload("retry-1"))

    api.signer.before_claim = second_request
    first = api.upload("retry-1")
    [second] = answers
    assert first.status_code == second.status_code == 200, (first.content, second.content)
    winner = second.json()
    assert first.json()["result_id"] == winner["result_id"] and first.json()["key"] == winner["key"]
    assert first.headers.get("idempotent-replayed") == "true"
    assert first.json()["url"] and first.json()["uploaded"] is False  # not uploaded yet: a fresh POST

    # One live record; the loser's own record is a tombstone; one claim, with the table's TTL.
    store = DynamoDBResultStore(aws_stack.client("dynamodb"), resources.results_table)
    assert [r.id for r in all_results(store)] == [winner["result_id"]]
    dynamodb = aws_stack.client("dynamodb")
    items = dynamodb.scan(TableName=resources.results_table)["Items"]
    tombstones = [i for i in items if "deleted_at" in i]
    assert len(tombstones) == 1 and tombstones[0]["id"]["S"] != winner["result_id"]
    claims = dynamodb.scan(TableName=resources.idempotency_table)["Items"]
    assert len(claims) == 1 and claims[0]["id"]["S"].startswith("upload-key#")
    assert claims[0]["result_id"]["S"] == winner["result_id"] and int(claims[0]["expiration"]["N"]) > 0
    assert "retry-1" not in str(claims[0]) and ALICE not in str(claims[0])  # hashed, not stored


def test_a_retried_upload_is_scanned_once_and_answers_its_result(
    aws_stack: LocalAwsStack,
    resources: StackResources,
    cloud_settings: Settings,
    make_worker: MakeWorker,
    face_photo: Path,
) -> None:
    api = Api(cloud_settings)
    data = face_photo.read_bytes()
    ticket = api.upload("retry-2", size=len(data)).json()
    _post_file(ticket, data)
    # The client lost the answer of its POST and starts over: the file is there, no new POST.
    again = api.upload("retry-2", size=len(data)).json()
    assert again["result_id"] == ticket["result_id"] and again["uploaded"] is True and again["url"] is None
    worker, counting = make_worker()
    drain(worker, lambda: queue_depth(aws_stack, resources.queue_url) == 0)
    done = api.upload("retry-2", size=len(data)).json()
    assert done["result"]["status"] == "done" and done["result_id"] == ticket["result_id"]
    store = DynamoDBResultStore(aws_stack.client("dynamodb"), resources.results_table)
    assert [(r.id, r.status) for r in all_results(store)] == [(ticket["result_id"], Status.DONE)]
    assert counting.scanned == ["face.jpg"]
    # The same key for another file is refused, naming the first upload.
    other = api.upload("retry-2", name="other.jpg", size=len(data))
    assert other.status_code == 422 and other.json()["detail"]["code"] == "idempotency_key_reused"
    assert other.json()["detail"]["result_id"] == ticket["result_id"]
    # Deleted: polling says 410, and the key is free again (a new upload, as locally).
    assert api.alice.delete(ticket["result_url"]).status_code == 204
    assert api.alice.get(ticket["result_url"]).status_code == 410
    fresh = api.upload("retry-2", size=len(data)).json()
    assert fresh["result_id"] != ticket["result_id"] and fresh["url"] and fresh["replayed"] is False
