"""Presigned uploads and the results store's page tokens, without any network."""

from __future__ import annotations

import base64
import json

import boto3
import pytest

from deepfake_detect.aws.adapters.stores import _decode_token, _encode_token
from deepfake_detect.aws.adapters.uploads import S3UploadSigner
from deepfake_detect.core.formats import upload_name
from deepfake_detect.core.result import Status
from deepfake_detect.settings import AwsSettings, LimitsSettings, Settings
from tests.support.aws_fakes import InMemoryResults


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("photo.jpg", "photo.jpg"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\my photo (1).jpg", "my_photo_1_.jpg"),
        ("", "upload"),
        ("...", "upload"),
    ],
)
def test_file_names_become_safe_keys(given: str, expected: str) -> None:
    assert upload_name(given, "upload", key_safe=True) == expected


def test_a_presigned_post_enforces_type_and_size_and_queues_a_record() -> None:
    settings = Settings(
        aws=AwsSettings(upload_bucket="media-bucket", presign_expires_s=600),
        limits=LimitsSettings(max_upload_bytes=1234),
    )
    # Signing is local: a client with made-up credentials never opens a socket here.
    client = boto3.client(
        "s3", region_name="eu-west-1", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret"
    )
    results = InMemoryResults()
    ticket = S3UploadSigner(client, settings, results).presign("../me.jpg", "image/jpeg", "alice-sub")

    assert ticket["key"] == f"uploads/{ticket['result_id']}/me.jpg"
    assert ticket["fields"]["Content-Type"] == "image/jpeg" and ticket["max_bytes"] == 1234
    policy = json.loads(base64.b64decode(ticket["fields"]["policy"]))
    assert ["content-length-range", 1, 1234] in policy["conditions"]
    assert {"Content-Type": "image/jpeg"} in policy["conditions"]
    assert {"key": ticket["key"]} in policy["conditions"]
    queued = results.get(ticket["result_id"])
    assert queued is not None and queued.status is Status.QUEUED and queued.source["key"] == ticket["key"]
    assert queued.owner == "alice-sub"  # the caller's: the detect function keeps it


def test_page_tokens_round_trip_and_garbage_is_refused() -> None:
    key = "2026-11-26T23:00:00.000000Z#abc"
    assert _decode_token(_encode_token(key)) == key
    for bad in (
        "garbage",
        base64.urlsafe_b64encode(b'{"before": 3}').decode(),
        base64.urlsafe_b64encode(b"[1]").decode(),
        "%%%",
    ):
        with pytest.raises(ValueError, match="invalid page token"):
            _decode_token(bad)
