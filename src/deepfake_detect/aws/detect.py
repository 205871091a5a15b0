"""The detect function: SQS batches of S3 notifications in, one result per object revision out.

``make_detect_handler`` is called once per container (the models load there, outside the
handler); the Lambda entry point ``functions/detect/app.py`` and the local stack's worker both
call it, so the local stack runs the same handler Lambda runs.

Failure policy, per SQS message:
- a bad file (corrupt, unsupported, too big, deleted) is a *permanent* failure: recorded once as a
  failed result with an error code, and the message is done;
- anything else (throttling, a network error, a bug before the result is written) is *transient*:
  the message is reported as a batch item failure, SQS redelivers it, and after the queue's
  ``maxReceiveCount`` it lands in the dead-letter queue;
- a message that is not an S3 notification goes the transient way, straight to the DLQ's alarm.
Idempotency (Powertools, keyed on bucket + key + version id or ETag) makes a redelivered
notification a no-op once its object is done.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import Any, Protocol, cast

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.typing import LambdaContext

from deepfake_detect.aws.errors import permanent_error
from deepfake_detect.aws.events import MalformedEventError, ObjectRef, parse_sqs_body, result_id_for
from deepfake_detect.aws.observability import Telemetry
from deepfake_detect.aws.stores import ObjectInfo
from deepfake_detect.core.errors import MediaError
from deepfake_detect.core.formats import check_size
from deepfake_detect.core.pipeline import Analysis
from deepfake_detect.core.result import DetectionResult, MediaKind, Status
from deepfake_detect.settings import Settings
from deepfake_detect.store.base import ResultStore
from deepfake_detect.store.evidence import finish

LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


class Analyzer(Protocol):
    """What the worker needs of ``core.pipeline.ScanPipeline`` (tests pass a stand-in)."""

    def analyze(self, path: Any, *, display_path: str | None = None, progress: Any = None) -> Analysis: ...


class ObjectMedia(Protocol):
    """What the worker needs of the S3 media store: revision-aware reads, and a put for evidence."""

    def head(self, key: str, version_id: str | None = None) -> ObjectInfo: ...

    def local_copy(self, key: str, version_id: str | None = None) -> Any: ...

    def put(self, key: str, data: Any, content_type: str | None = None) -> None: ...


class ObjectProcessor:
    """Scans one object revision and records its result."""

    def __init__(
        self,
        settings: Settings,
        detector: Analyzer,
        media: ObjectMedia,
        results: ResultStore,
        telemetry: Telemetry,
    ) -> None:
        self.settings = settings
        self.detector = detector
        self.media = media
        self.results = results
        self.telemetry = telemetry

    def process(self, ref: ObjectRef) -> dict[str, str]:
        """Returns a small summary, which idempotency stores as the answer to later redeliveries."""
        started = time.perf_counter()
        result_id = result_id_for(ref, self.settings.aws.upload_prefix)
        with self.telemetry.object_scope(result_id, ref.bucket, ref.key):
            existing = self.results.get(result_id)
            # The API wrote a queued record when it handed out the upload URL: keep its time.
            created_at = existing.created_at if existing else datetime.now(UTC)
            name = PurePosixPath(ref.key).name or ref.key
            source = {"store": "s3", "bucket": ref.bucket, "key": ref.key}
            if ref.version_id:
                source["version_id"] = ref.version_id
            if ref.etag:
                source["etag"] = ref.etag
            kind = existing.media_kind if existing else MediaKind.UNKNOWN
            record = DetectionResult(
                id=result_id,
                path=name,
                status=Status.PROCESSING,
                media_kind=kind,
                created_at=created_at,
                source=source,
            )
            self.results.put(record)
            stage_ms: dict[str, float] = {}
            try:
                analysis = self._scan(ref, name, stage_ms)
            except Exception as exc:
                failure = permanent_error(exc)
                if failure is None:
                    self.telemetry.record_transient(exc)
                    raise
                analysis = Analysis(DetectionResult.failed(name, failure[0], failure[1]))
            store_start = time.perf_counter()
            with self.telemetry.subsegment("store"):
                result = finish(record, analysis, self.media, self.results)
            stage_ms["store"] = (time.perf_counter() - store_start) * 1000.0
            self.telemetry.record_result(
                result, stage_ms, (time.perf_counter() - started) * 1000.0, ref.event_time
            )
        return {
            "result_id": result_id,
            "status": result.status.value,
            "verdict": result.verdict.value if result.verdict else "",
        }

    def _scan(self, ref: ObjectRef, name: str, stage_ms: dict[str, float]) -> Analysis:
        limit = self.settings.limits.max_upload_bytes
        # The event carries the size: an oversized object is refused before any byte is read.
        size = ref.size if ref.size is not None else self.media.head(ref.key, ref.version_id).size
        try:
            check_size(size, limit)
        except MediaError as exc:
            return Analysis(DetectionResult.failed(name, exc.code, exc.message))
        start = time.perf_counter()
        with self.telemetry.subsegment("download"), self.media.local_copy(ref.key, ref.version_id) as path:
            stage_ms["download"] = (time.perf_counter() - start) * 1000.0
            with self.telemetry.subsegment("analyze"):
                return self.detector.analyze(path, display_path=name)


@dataclass
class DetectDependencies:
    """Everything the handler talks to; built from the settings unless a test passes its own."""

    detector: Analyzer
    media: ObjectMedia
    results: ResultStore
    persistence: BasePersistenceLayer


def aws_dependencies(settings: Settings, detector: Analyzer | None = None) -> DetectDependencies:
    from deepfake_detect.aws.clients import dynamodb_client, s3_client
    from deepfake_detect.aws.stores import DynamoDBResultStore, S3MediaStore
    from deepfake_detect.aws.wiring import live_detector

    media = S3MediaStore(s3_client(settings), settings.aws.upload_bucket)
    dynamodb = dynamodb_client(settings)
    results = DynamoDBResultStore(
        dynamodb,
        settings.aws.results_table,
        index=settings.aws.results_index,
        retention=timedelta(days=settings.aws.result_retention_days),
        queued_retention=timedelta(days=settings.aws.queued_retention_days),
        overflow=media,
    )
    persistence = DynamoDBPersistenceLayer(table_name=settings.aws.idempotency_table, boto3_client=dynamodb)
    return DetectDependencies(
        detector=detector or live_detector(settings), media=media, results=results, persistence=persistence
    )


def make_detect_handler(
    settings: Settings, deps: DetectDependencies | None = None, telemetry: Telemetry | None = None
) -> LambdaHandler:
    """Build the Lambda handler; call once per container (this is where the models load)."""
    deps = deps or aws_dependencies(settings)
    telemetry = telemetry or Telemetry(settings)
    logger, metrics, tracer = telemetry.logger, telemetry.metrics, telemetry.tracer
    processor = ObjectProcessor(settings, deps.detector, deps.media, deps.results, telemetry)
    config = IdempotencyConfig(
        event_key_jmespath="[bucket, key, revision]",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=settings.aws.idempotency_expires_s,
    )

    def scan(obj: dict[str, str]) -> dict[str, str]:
        return processor.process(ObjectRef.from_payload(obj))

    scan_once = cast(
        Callable[..., dict[str, str]],
        idempotent_function(
            scan, data_keyword_argument="obj", persistence_store=deps.persistence, config=config
        ),
    )

    def record_handler(record: SQSRecord) -> None:
        telemetry.record_message()
        try:
            refs = parse_sqs_body(record.body)
        except MalformedEventError as exc:
            telemetry.record_malformed(str(exc))
            raise
        if not refs:
            logger.info("skipping s3:TestEvent", extra={"message_id": record.message_id})
        for ref in refs:
            scan_once(obj=ref.payload())

    batch = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    @logger.inject_lambda_context(clear_state=True)
    @tracer.capture_lambda_handler(capture_response=False)
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        # An object left "in progress" by a crashed invocation may be retried once this
        # invocation's time is up: Powertools reads the remaining time from the context.
        config.register_lambda_context(context)
        return dict(
            process_partial_response(
                event=event, record_handler=record_handler, processor=batch, context=context
            )
        )

    return cast(LambdaHandler, lambda_handler)
