"""Reviewer labels in the DynamoDB feedback table (the ``FeedbackStore`` port of ``registry.feedback``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from deepfake_detect.registry.feedback import Feedback

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoDBFeedbackStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client, self.table = client, table

    def put(self, feedback: Feedback) -> None:
        self.client.put_item(
            TableName=self.table,
            Item={
                "result_id": {"S": feedback.result_id},
                "label": {"S": feedback.label.value},
                "created_at": {"S": feedback.created_at.isoformat()},
                "document": {"S": feedback.model_dump_json()},
            },
        )

    def get(self, result_id: str) -> Feedback | None:
        item = self.client.get_item(
            TableName=self.table, Key={"result_id": {"S": result_id}}, ConsistentRead=True
        ).get("Item")
        return Feedback.model_validate_json(item["document"]["S"]) if item else None  # type: ignore[index]

    def all(self) -> Iterator[Feedback]:
        # Read once per training job: a scan over a table of reviews is the simple, cheap choice.
        for page in self.client.get_paginator("scan").paginate(TableName=self.table):
            for item in page.get("Items", []):
                yield Feedback.model_validate_json(item["document"]["S"])  # type: ignore[index]
