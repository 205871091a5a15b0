"""The cloud export's answers fit Lambda's 6 MB whatever they hold: JSON Lines go base64-encoded
(4/3), CSV as text the answer's JSON escapes (non-ASCII file names up to 3 times their UTF-8), each
cut at ``EXPORT_MAX_BYTES`` by the API as Lambda runs it (Mangum, payload 2.0 events)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from deepfake_detect.api.app import create_app
from deepfake_detect.api.identity import jwt_identity
from deepfake_detect.api.services import Services
from deepfake_detect.aws.wiring import EXPORT_MAX_BYTES
from deepfake_detect.core.model_card import ModelCard
from deepfake_detect.core.result import DetectionResult, Status, Verdict
from deepfake_detect.settings import Settings
from tests.support.aws_fakes import InMemoryResults
from tests.support.lambda_api import LambdaApi, _Context, http_event, user_claims

LAMBDA_ANSWER_LIMIT = 6 * 1024 * 1024
OWNER = "0b7e-owner"
START = datetime(2026, 1, 5, tzinfo=UTC)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_every_answer_of_an_export_of_awkward_names_fits(tmp_path, fmt: str) -> None:
    results = InMemoryResults()
    # Names of 4-byte characters: 12 bytes each in the answer's JSON (two \\uXXXX escapes).
    name = "\U0001f600" * 60 + '"quoted", =1+1.jpg'
    count = 6_000
    for n in range(count):
        results.put(
            DetectionResult(
                id=f"{n:05d}",
                path=name,
                status=Status.DONE,
                verdict=Verdict.REAL,
                score=0.1,
                owner=OWNER,
                created_at=START + timedelta(seconds=n),
            )
        )
    services = Services(
        settings=Settings(data_dir=tmp_path),
        media=None,  # type: ignore[arg-type]
        results=results,
        model_card=lambda: ModelCard(name="m", version="1"),
        identity=jwt_identity(),
        export_max_bytes=EXPORT_MAX_BYTES,
    )
    handler = LambdaApi(create_app(services.settings, services, "cloud")).handler
    claims = user_claims(OWNER)
    query = {"since": "2026-01-05", "until": "2026-01-06", "format": fmt}
    seen, answers, largest = 0, 0, 0
    while True:
        answer = handler(http_event("GET", "/v1/results/export", claims, query=query), _Context())
        assert answer["statusCode"] == 200
        size = len(json.dumps(answer))  # as Lambda's runtime sends it back
        assert size < LAMBDA_ANSWER_LIMIT
        largest = max(largest, size)
        body = base64.b64decode(answer["body"]) if answer["isBase64Encoded"] else answer["body"].encode()
        lines = body.decode().splitlines()
        seen += len(lines) - (1 if fmt == "csv" else 0)
        answers += 1
        token = answer["headers"].get("x-next-token")
        if not token:
            break
        query["token"] = token
    assert seen == count and answers >= 2
    assert largest > LAMBDA_ANSWER_LIMIT / 4  # the case is not trivially small
