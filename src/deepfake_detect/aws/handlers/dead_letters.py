"""The dead-letter consumer: what still reaches the detect queue's dead-letter queue is failed.

The detect function records a failed result itself on a message's last receive; a message reaches
the dead-letter queue only when that last try could not run to the end (the runtime crashed, ran
out of memory or hit its timeout) or is not an S3 notification at all. For each object such a
message names, this function stores a ``failed`` result (``internal_error``) unless its record
already finished or was deleted, keeping the record's owner, so no record stays ``queued`` or
``processing``. The message body is logged in full (to send it to the queue again after a fix) and
counted (``DeadLetters``, alarmed). A result it fails is announced like any other final state: its
``Scan Completed`` event goes on the deployment's bus (``DEEPFAKE_AWS_EVENT_BUS_NAME``; a put that
fails retries the message). It imports no scanner: it ships in the API function's zip.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from deepfake_detect.aws.adapters.s3_events import MalformedEventError, parse_sqs_body, result_id_for
from deepfake_detect.aws.budget import receive_count
from deepfake_detect.aws.failures import record_failure
from deepfake_detect.aws.observability import DEAD_LETTERS
from deepfake_detect.core.errors import ErrorCode
from deepfake_detect.settings import Settings, get_settings
from deepfake_detect.store.base import ResultStore
from deepfake_detect.store.events import CompletionPublisher

LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]

# The function's Powertools objects, once per container, named by the deployment's settings.
_names = get_settings().aws
logger = Logger(service=f"{_names.service_name}-dead-letters")
metrics = Metrics(namespace=_names.metrics_namespace, service=_names.service_name)

DEAD_LETTER_MESSAGE = (
    "the scan failed on every try (the scanner stopped before it could record why); "
    "upload the file again to retry"
)


def aws_results(settings: Settings) -> ResultStore:
    from deepfake_detect.aws.adapters.clients import s3_client
    from deepfake_detect.aws.adapters.stores import DynamoDBResultStore, S3MediaStore

    return DynamoDBResultStore.from_settings(
        settings, S3MediaStore(s3_client(settings), settings.aws.upload_bucket)
    )


class DeadLetterHandler:
    """The dead-letter consumer's handler, built once per container."""

    def __init__(
        self, settings: Settings, results: ResultStore, events: CompletionPublisher | None = None
    ) -> None:
        self.settings = settings
        self.results = results
        self.events = events
        self.batch = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        handle = metrics.log_metrics(self.handle_batch)
        self._handle: LambdaHandler = logger.inject_lambda_context(clear_state=True)(handle)

    def __call__(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return self._handle(event, context)

    def handle_batch(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return dict(
            process_partial_response(
                event=event, record_handler=self.handle_record, processor=self.batch, context=context
            )
        )

    def handle_record(self, record: SQSRecord) -> None:
        metrics.add_metric(name=DEAD_LETTERS, unit=MetricUnit.Count, value=1)
        context = {"message_id": record.message_id, "receives": receive_count(record), "body": record.body}
        try:
            refs = parse_sqs_body(record.body)
        except MalformedEventError as exc:
            logger.error(
                "a dead letter that is not an S3 notification", extra={**context, "reason": str(exc)}
            )
            return  # nothing to record; the log keeps the body
        for ref in refs:
            failed = record_failure(
                self.results, self.settings, ref, ErrorCode.INTERNAL_ERROR, DEAD_LETTER_MESSAGE
            )
            if failed is not None and self.events is not None:
                self.events.publish(failed)
            logger.error(
                "a file failed every try; its result is recorded as failed",
                extra={
                    **context,
                    "result_id": result_id_for(ref, self.settings.aws.upload_prefix),
                    "object_key": ref.key,
                    "recorded": failed is not None,  # False: it had finished, or was deleted
                },
            )


def make_dead_letter_handler(
    settings: Settings,
    results: ResultStore | None = None,
    events: CompletionPublisher | None = None,
) -> DeadLetterHandler:
    """The handler over the deployment's results table and event bus unless a test passes its own
    store and publisher; call once per container."""
    if events is None:
        from deepfake_detect.aws.adapters.completions import eventbridge_publisher

        events = eventbridge_publisher(settings)  # None without a bus
    return DeadLetterHandler(settings, results if results is not None else aws_results(settings), events)
