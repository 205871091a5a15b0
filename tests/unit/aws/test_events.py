from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deepfake_detect.aws.adapters.s3_events import (
    MalformedEventError,
    ObjectRef,
    parse_sqs_body,
    result_id_for,
)

EVENTS = Path(__file__).parent / "events"


def sqs_event() -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "s3_put_via_sqs.json").read_text())
    return event


def s3_body(key: str = "uploads/a.jpg", event_name: str = "ObjectCreated:Put", **obj: object) -> str:
    return json.dumps(
        {
            "Records": [
                {
                    "eventSource": "aws:s3",
                    "eventName": event_name,
                    "eventTime": "2026-11-26T23:00:00.000Z",
                    "s3": {"bucket": {"name": "b"}, "object": {"key": key, "size": 5, "eTag": "e1", **obj}},
                }
            ]
        }
    )


def test_keys_are_url_decoded_and_the_revision_is_the_version_id() -> None:
    [ref] = parse_sqs_body(sqs_event()["Records"][0]["body"])
    assert ref.bucket == "media-bucket"
    assert ref.key == "uploads/holiday/my photo(1).jpg"
    assert ref.size == 1024
    assert ref.revision == "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
    assert ref.event_time == "2026-11-26T23:00:00.000Z"


def test_a_slash_encoded_as_percent_2f_is_decoded_too() -> None:
    [ref] = parse_sqs_body(s3_body("uploads%2Fa+b%2Bc.jpg"))
    assert ref.key == "uploads/a b+c.jpg"
    assert ref.revision == "e1"  # unversioned bucket: the ETag tells revisions apart


def test_the_s3_test_event_is_skipped() -> None:
    assert parse_sqs_body((EVENTS / "s3_test_event.json").read_text()) == []


def test_only_created_objects_are_scanned() -> None:
    assert parse_sqs_body(s3_body(event_name="ObjectRemoved:Delete")) == []


INCOMPLETE = '{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put"}]}'


@pytest.mark.parametrize("body", ["not json", "[1, 2]", '{"Message": "hello"}', INCOMPLETE])
def test_anything_else_is_a_malformed_event(body: str) -> None:
    with pytest.raises(MalformedEventError):
        parse_sqs_body(body)


def test_the_payload_round_trips() -> None:
    [ref] = parse_sqs_body(sqs_event()["Records"][0]["body"])
    assert ObjectRef.from_payload(ref.payload()) == ref


def test_uploads_handed_out_by_the_api_keep_their_result_id() -> None:
    ref = ObjectRef("b", "uploads/0123456789abcdef0123456789abcdef/photo.jpg", etag="e")
    assert result_id_for(ref, "uploads/") == "0123456789abcdef0123456789abcdef"


def test_other_keys_get_an_id_per_revision_that_redelivery_cannot_change() -> None:
    key = "uploads/pipeline/photo.jpg"
    first = result_id_for(ObjectRef("b", key, version_id="v1"), "uploads/")
    assert first == result_id_for(ObjectRef("b", key, version_id="v1", etag="other"), "uploads/")
    assert first != result_id_for(ObjectRef("b", key, version_id="v2"), "uploads/")
    # A folder named like an id is not an upload id unless a file name follows it.
    bare = ObjectRef("b", "uploads/0123456789abcdef0123456789abcdef", etag="e")
    assert result_id_for(bare, "uploads/") != "0123456789abcdef0123456789abcdef"
