"""A deferred file's message, sent again as a new message on the detect queue.

A message handed back to SQS (a batch item failure) counts one more receive toward the queue's
``maxReceiveCount``, and a file deferred for time only (others of its batch used the invocation)
could so reach the dead-letter queue without ever being tried. Sent again as a new message, its
receives start over; the count of deferrals travels in a message attribute
(``budget.DEFERRALS_ATTRIBUTE``) and is bounded by ``aws.max_deferrals``. Each invocation starts at
least its first file, so deferred files are always reached.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from deepfake_detect.aws.budget import DEFERRALS_ATTRIBUTE
from deepfake_detect.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class SqsRequeue:
    """``requeue(body, deferrals)``: the message again, with its count of deferrals."""

    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self.client = client
        self.queue_url = queue_url

    def __call__(self, body: str, deferrals: int) -> None:
        self.client.send_message(
            QueueUrl=self.queue_url,
            MessageBody=body,
            MessageAttributes={DEFERRALS_ATTRIBUTE: {"DataType": "Number", "StringValue": str(deferrals)}},
        )


def sqs_requeue(settings: Settings) -> SqsRequeue | None:
    """The detect queue's requeue; None without ``DEEPFAKE_AWS_DETECT_QUEUE_URL``."""
    if not settings.aws.detect_queue_url:
        return None
    from deepfake_detect.aws.adapters.clients import sqs_client

    return SqsRequeue(sqs_client(settings), settings.aws.detect_queue_url)
