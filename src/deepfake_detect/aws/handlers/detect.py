"""The detect function: SQS batches of S3 notifications in, one result per object revision out.

``make_detect_handler`` builds the ``DetectHandler`` once per container (the models load there,
outside the handler); the Lambda entry point ``functions/detect/app.py`` and the local stack's
worker both call it, so the local stack runs the same handler Lambda runs. The function's logger,
metrics and tracer are module-level (``telemetry``), as Powertools has them.

Failure policy, per SQS message:
- a bad file (corrupt, unsupported, too big, deleted) is a *permanent* failure: recorded once as a
  failed result with an error code, and the message is done;
- anything else (throttling, a network error, a bug before the result is written) is *transient*:
  the message is reported as a batch item failure, SQS redelivers it, and after the queue's
  ``maxReceiveCount`` it lands in the dead-letter queue;
- a message that is not an S3 notification goes the transient way, straight to the DLQ's alarm;
- time (``aws/budget.py``): an object is not started when too little of the invocation is left
  (its message is sent again as a new one, using up none of its receives: ``aws.max_deferrals``),
  and a scan that runs into the end of the invocation is stopped, so one slow file never takes
  its batch-mates down with a timeout of the whole invocation;
- a file that crashes the runtime (or runs into the end of the invocation) does not take its
  batch-mates down again: a scan that starts marks its record (``progress`` 0), an ordinary
  transient failure clears the mark, so a redelivered message whose record still carries it was
  started and never came back. Such a *suspect* is handed back untried while its batch holds
  other messages (it is tried alone, or last in its batch on its last receive: ``scan_plan``);
- on the message's last receive (``aws.max_receive_count``, the queue's ``maxReceiveCount``) a
  transient failure is recorded as a failed result instead of raised: nothing stays ``queued`` or
  ``processing``. Whatever still reaches the DLQ (a crash on the last try) is failed by the
  dead-letter consumer (``aws/handlers/dead_letters.py``);
- a result deleted while its file was being scanned is not written back: the scan's own files
  are removed and the message is done.
Idempotency (Powertools, keyed on bucket + key + version id or ETag) makes a redelivered
notification a no-op once its object is done.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, cast

from aws_lambda_powertools.shared.constants import LAMBDA_FUNCTION_NAME_ENV
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.typing import LambdaContext

from deepfake_detect.aws.adapters.s3_events import (
    MalformedEventError,
    ObjectRef,
    parse_sqs_body,
    result_id_for,
)
from deepfake_detect.aws.adapters.stores import ObjectInfo
from deepfake_detect.aws.budget import (
    NotStartedError,
    ScanBudget,
    ScanTimeoutError,
    deferrals,
    receive_count,
)
from deepfake_detect.aws.failures import object_record, permanent_error, record_failure
from deepfake_detect.aws.observability import Telemetry
from deepfake_detect.core.errors import ErrorCode, MediaError
from deepfake_detect.core.formats import check_size
from deepfake_detect.core.hashing import file_sha256
from deepfake_detect.core.pipeline import Analysis
from deepfake_detect.core.result import DetectionResult, Status
from deepfake_detect.settings import Settings, get_settings
from deepfake_detect.store.base import ResultDeletedError, ResultStore
from deepfake_detect.store.deletion import purge_media
from deepfake_detect.store.events import CompletionPublisher
from deepfake_detect.store.evidence import finish
from deepfake_detect.store.records import failed_result

LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]

# The function's Powertools objects, once per container (JSON logs, EMF metrics, X-Ray), named by
# the deployment's settings: DEEPFAKE_AWS_SERVICE_NAME and DEEPFAKE_AWS_METRICS_NAMESPACE.
telemetry = Telemetry(get_settings())
logger, metrics, tracer = telemetry.logger, telemetry.metrics, telemetry.tracer


class Analyzer(Protocol):
    """What the worker needs of ``core.pipeline.ScanPipeline`` (tests pass a stand-in)."""

    def analyze(
        self, path: Any, *, display_path: str | None = None, progress: Any = None, pictures: bool = False
    ) -> Analysis: ...


class ObjectMedia(Protocol):
    """What the worker needs of the S3 media store: revision-aware reads, and a put for evidence."""

    def head(self, key: str, version_id: str | None = None) -> ObjectInfo: ...

    def local_copy(self, key: str, version_id: str | None = None) -> Any: ...

    def put(self, key: str, data: Any, content_type: str | None = None) -> None: ...

    def delete(self, key: str) -> None: ...

    def delete_prefix(self, prefix: str) -> int: ...


class ObjectProcessor:
    """Scans one object revision and records its result."""

    def __init__(
        self,
        settings: Settings,
        detector: Analyzer,
        media: ObjectMedia,
        results: ResultStore,
        telemetry: Telemetry,
        events: CompletionPublisher | None = None,
    ) -> None:
        self.settings = settings
        self.detector = detector
        self.media = media
        self.results = results
        self.telemetry = telemetry
        self.events = events  # Scan Completed on the event bus (aws/adapters/completions.py)

    def process(self, ref: ObjectRef, budget: ScanBudget | None = None) -> dict[str, str]:
        """Returns a small summary, which idempotency stores as the answer to later redeliveries."""
        started = time.perf_counter()
        result_id = result_id_for(ref, self.settings.aws.upload_prefix)
        with self.telemetry.object_scope(result_id, ref.bucket, ref.key):
            # The API wrote a queued record when it handed out the upload URL: keep its time,
            # its media kind and its owner.
            existing = self.results.get(result_id)
            record = object_record(ref, self.settings, existing, Status.PROCESSING)
            record.progress = 0.0  # "a scan started": cleared if it fails in an ordinary way
            try:
                self.results.put(record)
            except ResultDeletedError:
                return self._deleted(record)
            stage_ms: dict[str, float] = {}
            try:
                analysis = self._scan(ref, record, stage_ms, budget)
            except ScanTimeoutError as exc:
                if exc.retry:
                    self.telemetry.record_transient(exc)
                    raise
                # It had the whole invocation to itself: a retry cannot do better.
                analysis = Analysis(failed_result(record, ErrorCode.SCAN_TIMEOUT, str(exc)))
            except Exception as exc:
                failure = permanent_error(exc)
                if failure is None:
                    self.telemetry.record_transient(exc)
                    self._clear_started(record)
                    raise
                analysis = Analysis(failed_result(record, *failure))
            store_start = time.perf_counter()
            try:
                with self.telemetry.subsegment("store"):
                    result = finish(record, analysis, self.media, self.results)
            except ResultDeletedError:
                return self._deleted(record)
            stage_ms["store"] = (time.perf_counter() - store_start) * 1000.0
            if self.events is not None:  # raises if the bus refuses it: the message is retried
                self.events.publish(result)
            self.telemetry.record_result(
                result, stage_ms, (time.perf_counter() - started) * 1000.0, ref.event_time
            )
        return {
            "result_id": result_id,
            "status": result.status.value,
            "verdict": result.verdict.value if result.verdict else "",
        }

    def _scan(
        self, ref: ObjectRef, record: DetectionResult, stage_ms: dict[str, float], budget: ScanBudget | None
    ) -> Analysis:
        name = record.path
        limit = self.settings.limits.max_upload_bytes
        # The event carries the size: an oversized object is refused before any byte is read.
        size = ref.size if ref.size is not None else self.media.head(ref.key, ref.version_id).size
        try:
            check_size(size, limit)
        except MediaError as exc:
            return Analysis(failed_result(record, exc.code, exc.message))
        first = budget.begin() if budget is not None else True
        start = time.perf_counter()
        with self.telemetry.subsegment("download"), self.media.local_copy(ref.key, ref.version_id) as path:
            stage_ms["download"] = (time.perf_counter() - start) * 1000.0
            record.source["sha256"] = file_sha256(path)  # the report names the exact file scanned
            with self.telemetry.subsegment("analyze"):
                if budget is None:
                    return self.detector.analyze(path, display_path=name, pictures=True)
                analysis: Analysis = budget.run(
                    lambda progress: self.detector.analyze(
                        path, display_path=name, progress=progress, pictures=True
                    ),
                    first=first,
                )
                return analysis

    def _clear_started(self, record: DetectionResult) -> None:
        """The scan failed in an ordinary, retryable way (it did not crash the runtime): say so on
        the record, so its redelivery is not taken for a file that kills the scanner."""
        record.progress = None
        try:
            self.results.put(record)
        except Exception:  # best effort: the store may be what failed
            self.telemetry.logger.warning("could not clear the record's scan mark", exc_info=True)

    def _deleted(self, record: DetectionResult) -> dict[str, str]:
        """The result was deleted while its file was being scanned: remove what is left of the
        file (the upload, an evidence image this scan wrote) and record nothing."""
        purge_media(self.media, record, self.settings.aws.upload_prefix)
        self.telemetry.logger.info("the result was deleted during its scan; its files are removed")
        return {"result_id": record.id, "status": "deleted", "verdict": ""}

    def give_up(self, ref: ObjectRef, exc: BaseException, receives: int) -> DetectionResult | None:
        """The last try of this object failed too: record it as failed (unless it finished or was
        deleted meanwhile) rather than leave it ``processing``; SQS will not hand it out again."""
        timed_out = isinstance(exc, ScanTimeoutError)
        code = ErrorCode.SCAN_TIMEOUT if timed_out else ErrorCode.INTERNAL_ERROR
        message = (
            str(exc)
            if timed_out
            else f"the scan failed on each of its {receives} tries ({type(exc).__name__}); it is not retried"
        )
        failed = record_failure(self.results, self.settings, ref, code, message)
        self.telemetry.record_gave_up(ref.key, receives, exc)
        if failed is not None and self.events is not None:
            self.events.publish(failed)
        return failed


@dataclass
class DetectDependencies:
    """Everything the handler talks to; built from the settings unless a test passes its own."""

    detector: Analyzer
    media: ObjectMedia
    results: ResultStore
    persistence: BasePersistenceLayer
    events: CompletionPublisher | None = None
    # A deferred file's message sent again as a new one (aws/adapters/requeue.py); None: handed back.
    requeue: Callable[[str, int], None] | None = None


def aws_dependencies(settings: Settings, detector: Analyzer | None = None) -> DetectDependencies:
    from deepfake_detect.aws.adapters.clients import dynamodb_client, s3_client
    from deepfake_detect.aws.adapters.completions import eventbridge_publisher
    from deepfake_detect.aws.adapters.requeue import sqs_requeue
    from deepfake_detect.aws.adapters.stores import DynamoDBResultStore, S3MediaStore
    from deepfake_detect.aws.wiring import live_detector

    media = S3MediaStore(s3_client(settings), settings.aws.upload_bucket)
    dynamodb = dynamodb_client(settings)
    results = DynamoDBResultStore.from_settings(settings, media, dynamodb)
    persistence = DynamoDBPersistenceLayer(table_name=settings.aws.idempotency_table, boto3_client=dynamodb)
    return DetectDependencies(
        detector=detector or live_detector(settings),
        media=media,
        results=results,
        persistence=persistence,
        events=eventbridge_publisher(settings),
        requeue=sqs_requeue(settings),
    )


# The idempotency records' key prefix (Powertools names it after the scan function): the name the
# scan had before the handlers moved to aws/handlers/, kept so that records written before the move
# still make a redelivered notification a no-op.
IDEMPOTENCY_KEY = "deepfake_detect.aws.detect.make_detect_handler.<locals>.scan"


class DetectHandler:
    """The detect function's handler: built once per container (this is where the models load),
    then called with each SQS batch. One invocation's clock (``budget``) is set at its start and
    read by every message of its batch."""

    def __init__(
        self, settings: Settings, deps: DetectDependencies, telemetry: Telemetry = telemetry
    ) -> None:
        self.settings = settings
        self.results = deps.results
        self.requeue = deps.requeue
        self.telemetry = telemetry
        self.processor = ObjectProcessor(
            settings, deps.detector, deps.media, deps.results, telemetry, deps.events
        )
        self.config = IdempotencyConfig(
            event_key_jmespath="[bucket, key, revision]",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=settings.aws.idempotency_expires_s,
        )
        self.scan_once = cast(
            Callable[..., dict[str, str]],
            idempotent_function(
                self.scan,
                data_keyword_argument="obj",
                persistence_store=deps.persistence,
                config=self.config,
                key_prefix=f"{os.getenv(LAMBDA_FUNCTION_NAME_ENV, 'test-func')}.{IDEMPOTENCY_KEY}",
            ),
        )
        self.batch = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        self.budget: ScanBudget | None = None  # this invocation's clock
        handle = telemetry.metrics.log_metrics(self.handle_batch)
        handle = telemetry.tracer.capture_lambda_handler(capture_response=False)(handle)
        self._handle: LambdaHandler = telemetry.logger.inject_lambda_context(clear_state=True)(handle)

    def __call__(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return self._handle(event, context)

    def scan(self, obj: dict[str, str], budget: ScanBudget | None = None) -> dict[str, str]:
        return self.processor.process(ObjectRef.from_payload(obj), budget)

    def handle_batch(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        settings = self.settings
        # An object left "in progress" by a crashed invocation may be retried once this
        # invocation's time is up: Powertools reads the remaining time from the context.
        self.config.register_lambda_context(context)
        self.budget = ScanBudget.of(
            context, finish_reserve_s=settings.aws.finish_reserve_s, min_start_s=settings.aws.min_start_s
        )
        to_scan, handed_back = scan_plan(event.get("Records", []), self.results, settings)
        for record in handed_back:
            self.telemetry.record_isolated(record.get("messageId", ""))
        if not to_scan:
            response: dict[str, Any] = {"batchItemFailures": []}
        else:
            response = dict(
                process_partial_response(
                    event={**event, "Records": to_scan},
                    record_handler=self.handle_record,
                    processor=self.batch,
                    context=context,
                )
            )
        response["batchItemFailures"] = [
            *response.get("batchItemFailures", []),
            *({"itemIdentifier": record["messageId"]} for record in handed_back),
        ]
        return response

    def handle_record(self, record: SQSRecord) -> None:
        telemetry, budget = self.telemetry, self.budget
        telemetry.record_message()
        try:
            refs = parse_sqs_body(record.body)
        except MalformedEventError as exc:
            telemetry.record_malformed(str(exc))
            raise
        if not refs:
            telemetry.logger.info("skipping s3:TestEvent", extra={"message_id": record.message_id})
        receives = receive_count(record)
        last_try = receives >= self.settings.aws.max_receive_count
        for ref in refs:
            if budget is not None and not budget.may_start():
                if self._sent_again(record, ref):
                    return  # done: its new message comes back with every receive unused
                if not last_try:
                    telemetry.record_deferred(ref.key, budget.remaining_s())
                    raise NotStartedError(
                        f"{budget.remaining_s():.1f} s left: {ref.key} is left to a later invocation"
                    )
            try:
                self.scan_once(obj=ref.payload(), budget=budget)
            except Exception as exc:
                if not last_try:
                    raise
                self.processor.give_up(ref, exc, receives)

    def _sent_again(self, record: SQSRecord, ref: ObjectRef) -> bool:
        """Defer the message's file by sending the message again, unless there is no queue to
        send to, it was deferred ``aws.max_deferrals`` times already, or the send fails."""
        deferred = deferrals(record)
        if self.requeue is None or self.budget is None or deferred >= self.settings.aws.max_deferrals:
            return False
        try:
            self.requeue(record.body, deferred + 1)
        except Exception as exc:  # the queue is unreachable: hand the message back instead
            self.telemetry.logger.warning("a deferred message was not sent again", extra={"error": str(exc)})
            return False
        self.telemetry.record_deferred(ref.key, self.budget.remaining_s())
        return True


def make_detect_handler(
    settings: Settings, deps: DetectDependencies | None = None, telemetry: Telemetry = telemetry
) -> DetectHandler:
    """The Lambda handler, over the deployment's AWS resources unless a test passes its own;
    call once per container (this is where the models load)."""
    return DetectHandler(settings, deps or aws_dependencies(settings), telemetry)


def scan_plan(
    records: list[dict[str, Any]], results: ResultStore, settings: Settings
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Which messages of the batch to scan, in order, and which to hand back untried.

    A *suspect* is a redelivered message whose record says a scan of it started and never came
    back (``processing`` with ``progress`` set): it crashed the runtime or ran into the timeout,
    and took its batch with it. While its batch holds other messages it is handed back untried
    (they are scanned without it), except on its last receive, when it is tried after them. Only
    redelivered messages are looked up; a lookup that fails counts as no suspicion."""
    suspects: set[int] = set()
    for index, record in enumerate(records):
        if _receives(record) > 1 and _started_and_lost(record, results, settings):
            suspects.add(index)
    if not suspects:
        return list(records), []
    innocent = [r for i, r in enumerate(records) if i not in suspects]
    suspected = [r for i, r in enumerate(records) if i in suspects]
    if not innocent:
        return suspected, []
    last = [r for r in suspected if _receives(r) >= settings.aws.max_receive_count]
    return innocent + last, [r for r in suspected if _receives(r) < settings.aws.max_receive_count]


def _receives(record: dict[str, Any]) -> int:
    try:
        return int((record.get("attributes") or {}).get("ApproximateReceiveCount", "1"))
    except (TypeError, ValueError):
        return 1


def _started_and_lost(record: dict[str, Any], results: ResultStore, settings: Settings) -> bool:
    try:
        refs = parse_sqs_body(record.get("body", ""))
    except MalformedEventError:
        return False
    try:
        for ref in refs:
            existing = results.get(result_id_for(ref, settings.aws.upload_prefix))
            if (
                existing is not None
                and existing.status is Status.PROCESSING
                and existing.progress is not None
            ):
                return True
    except Exception:  # the table is unreachable: the scan itself will say so
        return False
    return False
