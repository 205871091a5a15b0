"""What Lambda's SQS event source mapping does, for the local stack: receive a batch, invoke the
handler with an SQS event and a context, delete the messages that did not fail.

As in Lambda: a batch item failure leaves its message on the queue (it comes back after the
visibility timeout, and after ``maxReceiveCount`` receives SQS moves it to the dead-letter
queue); an invocation that raises leaves the whole batch on the queue.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass
class LocalLambdaContext:
    """The attributes of Lambda's context object that Powertools and the handler read."""

    function_name: str
    timeout_s: float
    memory_limit_in_mb: int = 2048
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:000000000000:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class Invocation:
    received: int
    failed: int
    crashed: bool


class LambdaWorker:
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        handler: Handler,
        *,
        batch_size: int = 10,
        timeout_s: float = 120.0,
        function_name: str = "detect-local",
        wait_s: int = 1,
        region: str = "us-east-1",
    ) -> None:
        self.sqs = sqs
        self.queue_url, self.queue_arn = queue_url, queue_arn
        self.handler = handler
        self.batch_size, self.timeout_s, self.wait_s = batch_size, timeout_s, wait_s
        self.function_name, self.region = function_name, region

    def poll_once(self) -> Invocation:
        """One receive + invoke + delete round. A ``BaseException`` from the handler (a simulated
        crash of the runtime) propagates after the batch is left on the queue."""
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=self.wait_s,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return Invocation(0, 0, False)
        event = {"Records": [self._record(m) for m in messages]}
        context = LocalLambdaContext(function_name=self.function_name, timeout_s=self.timeout_s)
        try:
            result = self.handler(event, context)
        except Exception:
            log.exception("invocation failed: the batch of %d stays on the queue", len(messages))
            return Invocation(len(messages), len(messages), True)
        failed = {item["itemIdentifier"] for item in (result or {}).get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
        return Invocation(len(messages), len(failed), False)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.poll_once()

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        body = message["Body"]
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": body,
            "attributes": message.get("Attributes", {}),
            "messageAttributes": _lambda_attributes(message.get("MessageAttributes", {})),
            "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self.region,
        }


def _lambda_attributes(attributes: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """SQS's message attributes (``StringValue``, ``DataType``) as Lambda hands them to a handler
    (``stringValue``, ``dataType``, with the list fields)."""
    return {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": value.get("StringListValues", []),
            "binaryListValues": value.get("BinaryListValues", []),
            "dataType": value.get("DataType", "String"),
        }
        for name, value in attributes.items()
    }
