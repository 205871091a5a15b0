"""The DynamoDB result store on DynamoDB Local: the provenance part of a record and the verdict
it decided round-trip, records stored before provenance existed still load, and the largest
provenance the reader's bounds allow overflows to S3 instead of failing the put."""

from __future__ import annotations

import json
import random
import string
import zlib

import pytest

from deepfake_detect.aws.adapters.stores import MAX_INLINE_DOCUMENT, DynamoDBResultStore, S3MediaStore
from deepfake_detect.core.provenance import Claim, ClaimSource, Provenance, ProvenanceConfig
from deepfake_detect.core.result import DetectionResult, Verdict
from infra.local.stack import LocalAwsStack, StackResources
from tests.support.provenance import declared_result, full_provenance

pytestmark = pytest.mark.integration


def store(stack: LocalAwsStack, resources: StackResources) -> DynamoDBResultStore:
    media = S3MediaStore(stack.client("s3"), resources.upload_bucket)
    return DynamoDBResultStore(stack.client("dynamodb"), resources.results_table, overflow=media)


def test_provenance_and_the_verdict_reason_round_trip(
    aws_stack: LocalAwsStack, resources: StackResources
) -> None:
    results = store(aws_stack, resources)
    original = declared_result(owner="alice-sub")
    results.put(original)
    got = results.get(original.id)
    assert got == original
    assert got is not None and got.provenance == full_provenance()
    assert (got.verdict, got.classifier_verdict, got.score) == (Verdict.FAKE, Verdict.REAL, 0.12)
    assert results.list(limit=5, owner="alice-sub").items == [original]
    assert results.list(limit=5, owner="bob-sub").items == []
    # The stored document is the same JSON as SQLite's, the CLI's and the API's.
    item = aws_stack.client("dynamodb").get_item(
        TableName=resources.results_table, Key={"id": {"S": original.id}}
    )["Item"]
    assert item["verdict"]["S"] == "fake"
    assert json.loads(zlib.decompress(item["document"]["B"])) == json.loads(original.model_dump_json())


def test_a_record_stored_before_provenance_still_loads(
    aws_stack: LocalAwsStack, resources: StackResources
) -> None:
    old = {"id": "old1", "path": "old.jpg", "status": "done", "verdict": "real", "score": 0.2}
    aws_stack.client("dynamodb").put_item(
        TableName=resources.results_table,
        Item={
            "id": {"S": "old1"},
            "list_pk": {"S": "results"},  # the index partition of the time before owners
            "created_key": {"S": "2020-01-01T00:00:00.000000Z#old1"},
            "status": {"S": "done"},
            "path": {"S": "old.jpg"},
            "verdict": {"S": "real"},
            "document": {"B": zlib.compress(json.dumps(old).encode())},
        },
    )
    results = store(aws_stack, resources)
    got = results.get("old1")
    assert got is not None and got.verdict is Verdict.REAL and got.score == 0.2
    assert got.provenance is None and got.verdict_reason is None and got.classifier_verdict is None
    # Without an owner it is in no one's list (the API answers 404 for it to every user); it
    # expires with the table's TTL, or is handed to a user by setting its "owner" attribute.
    assert results.list(owner="alice-sub").items == []


def test_the_largest_provenance_the_bounds_allow_goes_to_s3(
    aws_stack: LocalAwsStack, resources: StackResources
) -> None:
    """max_claims claims of max_fields fields of max_field_chars incompressible characters: far
    over a DynamoDB item, so the document overflows to S3 and still reads back whole."""
    bounds = ProvenanceConfig()
    rng = random.Random(0)
    letters = string.ascii_letters + string.digits

    def text() -> str:
        return "".join(rng.choices(letters, k=bounds.max_field_chars))

    claims = [
        Claim(source=ClaimSource.PNG_TEXT, raw={f"k{i}": text() for i in range(bounds.max_fields)})
        for _ in range(bounds.max_claims)
    ]
    original = declared_result(provenance=Provenance(claims=claims, declared_ai=True, reason="test"))
    assert len(zlib.compress(original.model_dump_json().encode(), 6)) > MAX_INLINE_DOCUMENT
    results = store(aws_stack, resources)
    results.put(original)
    item = aws_stack.client("dynamodb").get_item(
        TableName=resources.results_table, Key={"id": {"S": original.id}}
    )["Item"]
    assert "document" not in item and item["document_key"]["S"].startswith("results/")
    got = results.get(original.id)
    assert isinstance(got, DetectionResult) and got == original
