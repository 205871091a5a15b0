"""Accuracy over time and export on the local AWS stack (DynamoDB Local, moto S3), through the cloud
API as Lambda runs it (HTTP API events with two users' JWT claims, through Mangum): each user's
report and export hold their own results only; the report reads the owner index and the labels by
id, and is bounded; an export is cut into answers Lambda can return and resumes with its token."""

from __future__ import annotations

import base64
import csv
import io
import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from deepfake_detect.api.app import create_app
from deepfake_detect.aws import wiring as cloud_wiring
from deepfake_detect.aws.adapters.accuracy import DynamoDBReviewedSource
from deepfake_detect.aws.adapters.feedback import DynamoDBFeedbackStore
from deepfake_detect.aws.adapters.stores import DynamoDBResultStore, S3MediaStore
from deepfake_detect.core.errors import ErrorCode
from deepfake_detect.core.result import DetectionResult, FaceResult, ModelInfo, Status, Verdict
from deepfake_detect.registry.accuracy import iso_week
from deepfake_detect.settings import Settings
from infra.local.stack import LocalAwsStack, StackResources
from tests.support.lambda_api import LambdaApi, LambdaClient, _Context, http_event, user_claims

pytestmark = pytest.mark.integration

ALICE, BOB = "3e9a7c1d-alice", "8f2b6d4e-bob"
MODEL_A = ModelInfo(name="m", version="2026.01", sha256="a" * 64)
MODEL_B = ModelInfo(name="m", version="2026.02", sha256="b" * 64)
LAMBDA_ANSWER_LIMIT = 6 * 1024 * 1024  # a synchronous Lambda answer, headers and JSON included


def finished(
    owner: str, n: int, when: datetime, verdict: Verdict, model: ModelInfo, **extra: Any
) -> DetectionResult:
    return DetectionResult(
        id=f"{owner[-5:]}-{n:03d}",
        path=f"{owner[-5:]}-{n}.jpg",
        status=Status.DONE,
        verdict=verdict,
        score=0.97 if verdict is Verdict.FAKE else 0.05,
        model=model,
        created_at=when,
        owner=owner,
        source={"store": "s3", "key": f"uploads/{owner[-5:]}-{n}/photo.jpg"},
        **extra,
    )


def label(client: LambdaClient, result_id: str, value: str) -> None:
    answer = client.post(f"/v1/results/{result_id}/feedback", body={"label": value})
    assert answer.status_code == 200, answer.content


def test_each_user_sees_their_own_accuracy_and_export(
    aws_stack: LocalAwsStack,
    resources: StackResources,
    feedback_settings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = DynamoDBResultStore(aws_stack.client("dynamodb"), resources.results_table)
    now = datetime.now(UTC)
    this_week, last_week = now - timedelta(minutes=5), now - timedelta(weeks=1)
    mine = [
        finished(ALICE, 0, last_week, Verdict.FAKE, MODEL_A),  # labelled real: false positive
        finished(ALICE, 1, last_week + timedelta(minutes=1), Verdict.REAL, MODEL_A),  # labelled fake: miss
        finished(ALICE, 2, last_week + timedelta(minutes=2), Verdict.REAL, MODEL_A),  # labelled real
        finished(ALICE, 3, this_week, Verdict.FAKE, MODEL_B),  # labelled fake
        finished(ALICE, 4, this_week + timedelta(seconds=1), Verdict.REAL, MODEL_B),  # not labelled
    ]
    theirs = [finished(BOB, n, this_week, Verdict.FAKE, MODEL_B) for n in range(3)]
    for result in mine + theirs:
        store.put(result)
    # A failed result and a queued record of Alice's: counted as finished, and not at all.
    store.put(DetectionResult.failed("broken.jpg", ErrorCode.CORRUPT_MEDIA, "bad", owner=ALICE, id="alice-f"))
    store.put(DetectionResult(id="alice-q", path="queued.jpg", status=Status.QUEUED, owner=ALICE))
    # A record stored before the model version was an attribute of its item: read from its document.
    legacy = finished(ALICE, 5, last_week + timedelta(minutes=3), Verdict.FAKE, MODEL_A)
    store.put(legacy)
    dynamodb = aws_stack.client("dynamodb")
    dynamodb.update_item(
        TableName=resources.results_table,
        Key={"id": {"S": legacy.id}},
        UpdateExpression="REMOVE model_version",
    )

    api = LambdaApi(create_app(feedback_settings, cloud_wiring.cloud_services(feedback_settings)))
    alice = api.as_user(user_claims(ALICE, "alice@example.com", "[reviewers]"))
    bob = api.as_user(user_claims(BOB, "bob@example.com", "[reviewers]"))
    capsys.readouterr()
    for result_id, value in (
        ("alice-000", "real"),
        ("alice-001", "fake"),
        ("alice-002", "real"),
        ("alice-003", "fake"),
    ):
        label(alice, result_id, value)
    label(bob, theirs[0].id, "real")

    # Each label stored wrote one EMF document with the version's and the service's dimension sets.
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert len(emf) == 5
    assert [(d["model_version"], d["ReviewerOverturned"]) for d in emf[:4]] == [
        ("2026.01", [1.0]),
        ("2026.01", [1.0]),
        ("2026.01", [0.0]),
        ("2026.02", [0.0]),
    ]

    report = alice.get("/v1/stats", query={"weeks": 2})
    assert report.status_code == 200, report.content
    body = report.json()
    assert body["truncated"] is False and body["limit"] == 5000
    assert body["results_read"] == 8  # Alice's five, the legacy one, the failed and the queued one
    rows = {(r["week"], r["model_version"]): r for r in body["rows"]}
    old = rows[(iso_week(last_week)[0], "2026.01")]
    assert (old["results"], old["done"], old["fake"], old["labels"]) == (4, 4, 2, 3)
    assert (old["agreed"], old["false_positives"], old["misses"], old["agreement"]) == (1, 1, 1, 1 / 3)
    new = rows[(iso_week(this_week)[0], "2026.02")]
    assert (new["results"], new["fake"], new["labels"], new["agreed"], new["fake_rate"]) == (2, 1, 1, 1, 0.5)
    failed = rows[(iso_week(now)[0], None)]
    assert (failed["results"], failed["done"]) == (1, 0)

    # Bob's report holds his results only: three fakes of this week, one overturned.
    [only] = bob.get("/v1/stats", query={"weeks": 2}).json()["rows"]
    assert (only["model_version"], only["results"], only["fake"], only["labels"]) == ("2026.02", 3, 3, 1)
    assert (only["false_positives"], only["agreement"]) == (1, 0.0)

    # The bound: past it, the newest results are read and the report says it is truncated.
    bounded = DynamoDBReviewedSource(
        store, DynamoDBFeedbackStore(dynamodb, feedback_settings.aws.feedback_table), limit=4
    )
    batch = bounded.reviewed(owner=ALICE, since=now - timedelta(weeks=2), until=now + timedelta(hours=1))
    assert batch.truncated and len(batch.rows) == 4
    assert [r.result_id for r in batch.rows] == ["alice-q", "alice-f", "alice-004", "alice-003"]  # newest
    reviewed = {r.result_id: r.label for r in batch.rows}["alice-003"]
    assert reviewed is not None and reviewed.value == "fake"

    # Export: Alice's results of the range only, oldest first, each line her record.
    since = (last_week - timedelta(hours=1)).isoformat()
    lines = alice.get("/v1/results/export", query={"since": since}).content.decode().splitlines()
    exported = [json.loads(line) for line in lines]
    order = [
        "alice-000",
        "alice-001",
        "alice-002",
        "alice-005",
        "alice-003",
        "alice-004",
        "alice-f",
        "alice-q",
    ]
    assert [r["id"] for r in exported] == order
    assert {r["owner"] for r in exported} == {ALICE}
    read = alice.get("/v1/results/alice-000").json()
    assert read.pop("same_file") is None  # the reading adds the file's other results (none here)
    assert exported[0] == read
    bobs = bob.get("/v1/results/export", query={"since": since, "format": "csv"})
    assert bobs.headers["content-type"].startswith("text/csv")
    rows_csv = list(csv.DictReader(io.StringIO(bobs.content.decode(), newline="")))
    assert sorted(r["id"] for r in rows_csv) == sorted(r.id for r in theirs)


def test_a_large_export_fits_lambdas_answer_and_resumes_with_its_token(
    aws_stack: LocalAwsStack, resources: StackResources, feedback_settings: Settings
) -> None:
    """Records with many faces and heat maps (some overflowing to S3): every answer stays under
    Lambda's 6 MB whatever the encoding Mangum picks, and the answers together are the range."""
    store = DynamoDBResultStore(
        aws_stack.client("dynamodb"),
        resources.results_table,
        overflow=S3MediaStore(aws_stack.client("s3"), resources.upload_bucket),
    )
    rng = random.Random(7)
    start = datetime(2026, 1, 5, tzinfo=UTC)
    ids = []
    for n in range(12):
        faces = [
            FaceResult(
                box=(1, 1, 50, 50),
                landmarks=[(2, 2)] * 5,
                detector_score=0.9,
                score=rng.random(),
                heatmap=[[round(rng.random(), 6) for _ in range(48)] for _ in range(48)],
            )
            for _ in range(40)
        ]
        result = finished(ALICE, n, start + timedelta(minutes=n), Verdict.FAKE, MODEL_A, faces=faces)
        store.put(result)
        ids.append(result.id)
    alice = LambdaApi(create_app(feedback_settings, cloud_wiring.cloud_services(feedback_settings))).as_user(
        user_claims(ALICE)
    )
    query: dict[str, str] = {"since": "2026-01-05", "until": "2026-01-06"}
    seen: list[str] = []
    answers = 0
    while True:
        raw = alice.handler(http_event("GET", "/v1/results/export", alice.claims, query=query), _Context())
        assert raw["statusCode"] == 200
        assert len(json.dumps(raw)) < LAMBDA_ANSWER_LIMIT  # what Lambda would send back
        body = base64.b64decode(raw["body"]) if raw["isBase64Encoded"] else raw["body"].encode()
        answers += 1
        seen += [json.loads(line)["id"] for line in body.decode().splitlines()]
        token = raw["headers"].get("x-next-token")
        if not token:
            break
        query["token"] = token
    assert seen == ids and answers >= 3
    overflowed = aws_stack.client("s3").list_objects_v2(Bucket=resources.upload_bucket, Prefix="results/")
    assert overflowed.get("KeyCount", 0) > 0  # documents too big for an item were read from S3
