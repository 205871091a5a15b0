"""Reviewer labels in the DynamoDB feedback table (the ``FeedbackStore`` port of ``registry.feedback``)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, cast

from deepfake_detect.registry.feedback import Feedback, Label

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import KeysAndAttributesTypeDef

# BatchGetItem reads at most 100 keys per call.
_BATCH_GET = 100


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

    def delete(self, result_id: str) -> None:
        self.client.delete_item(TableName=self.table, Key={"result_id": {"S": result_id}})

    def all(self) -> Iterator[Feedback]:
        # Read once per training job: a scan over a table of reviews is the simple, cheap choice.
        for page in self.client.get_paginator("scan").paginate(TableName=self.table):
            for item in page.get("Items", []):
                yield Feedback.model_validate_json(item["document"]["S"])  # type: ignore[index]

    def labels(self, result_ids: Sequence[str]) -> dict[str, Label]:
        """BatchGetItem of the ``label`` attribute, 100 ids a call (throttled keys are asked again)."""
        found: dict[str, Label] = {}
        ids = list(dict.fromkeys(result_ids))
        for start in range(0, len(ids), _BATCH_GET):
            request: KeysAndAttributesTypeDef = {
                "Keys": [{"result_id": {"S": i}} for i in ids[start : start + _BATCH_GET]],
                "ProjectionExpression": "result_id, #l",
                "ExpressionAttributeNames": {"#l": "label"},
            }
            for attempt in range(10):
                response = self.client.batch_get_item(RequestItems={self.table: request})
                for item in response.get("Responses", {}).get(self.table, []):
                    found[item["result_id"]["S"]] = Label(item["label"]["S"])  # type: ignore[index]
                unprocessed = response.get("UnprocessedKeys", {}).get(self.table)
                if not unprocessed or not unprocessed.get("Keys"):
                    break
                request = cast("KeysAndAttributesTypeDef", unprocessed)
                time.sleep(min(0.05 * 2**attempt, 1.0))
            else:
                raise RuntimeError(f"DynamoDB kept refusing to read {len(request['Keys'])} labels")
        return found
