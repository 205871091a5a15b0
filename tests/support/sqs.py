"""SQS messages as the detect function receives them: S3 notifications of one bucket's objects."""

from __future__ import annotations

import json
from typing import Any

BUCKET = "media-bucket"


def sqs_record(message_id: str, body: str) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"r-{message_id}",
        "body": body,
        "attributes": {},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:detect",
        "awsRegion": "us-east-1",
    }


def notification(key: str, size: int = 5) -> str:
    return json.dumps(
        {
            "Records": [
                {
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "eventTime": "2026-11-26T23:00:00.000Z",
                    "s3": {"bucket": {"name": BUCKET}, "object": {"key": key, "size": size, "eTag": "e1"}},
                }
            ]
        }
    )


def failures(response: dict[str, Any]) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]
