"""Logs, metrics and traces of the detect function (Powertools: JSON logs, EMF metrics, X-Ray).

Metric names are the contract with template.yaml's alarms and dashboard; change them together.

Tracing and the cold start: Powertools' ``Tracer`` imports the X-Ray SDK even when tracing is off,
and where it is on (in Lambda, ``Tracing: Active``) it patches every library the SDK knows that is
installed (requests, httpx, sqlite3, ...), importing each: together about 200 ms of a cold start.
The detect function talks to nothing but AWS, through botocore, so only botocore is patched (its
calls stay traced); and where tracing is off (outside Lambda, under SAM local, or with
``POWERTOOLS_TRACE_DISABLED``: Powertools' own rules) the tracer gets a provider that records
nothing, and the X-Ray SDK is never imported.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider
from aws_lambda_powertools.shared import constants
from aws_lambda_powertools.shared.functions import resolve_truthy_env_var_choice
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

from deepfake_detect.core.result import DetectionResult, Status, Verdict
from deepfake_detect.registry.accuracy import Outcome, outcome
from deepfake_detect.registry.feedback import Feedback
from deepfake_detect.settings import Settings

MESSAGES = "Messages"  # SQS messages handled, duplicates and test events included
FILES = "Files"
FAILED_FILES = "FailedFiles"
TRANSIENT_ERRORS = "TransientErrors"
MALFORMED_MESSAGES = "MalformedMessages"
FACES = "Faces"
FAKE_VERDICTS = "FakeVerdicts"
FAKE_SCORE = "FakeScore"  # one value per file with faces: its distribution is the drift signal
PROCESSING_LATENCY = "ProcessingLatency"  # download + scan + store, per object
DEFERRED_FILES = "DeferredFiles"  # not started: too little of the invocation was left
GAVE_UP_FILES = "GaveUpFiles"  # failed on the message's last receive, recorded as failed results
ISOLATED_MESSAGES = "IsolatedMessages"  # suspected of crashing their batch: handed back untried
DEAD_LETTERS = "DeadLetters"  # messages the dead-letter consumer received
END_TO_END_LATENCY = "EndToEndLatency"  # from the S3 event to the stored result
# Reviewers' labels against the verdicts they label (the API function, per label stored), each
# with the dimension sets (service) and (service, model_version): the alarm reads the first, the
# dashboard the second. A changed label moves its count (-1 where it was, +1 where it goes).
REVIEWER_AGREEMENT = "ReviewerAgreement"  # label == verdict
REVIEWER_OVERTURNED = "ReviewerOverturned"  # label != verdict
REVIEWER_FALSE_POSITIVES = "ReviewerFalsePositives"  # verdict fake, label real
REVIEWER_MISSES = "ReviewerMisses"  # verdict real, label fake
MODEL_VERSION_DIMENSION = "model_version"
# Per-stage latency: the pipeline's timings plus the function's own stages.
STAGE_METRICS = {
    "download": "DownloadLatency",
    "provenance": "ProvenanceLatency",
    "decode": "DecodeLatency",
    "detect": "DetectLatency",
    "align": "AlignLatency",
    "classify": "ClassifyLatency",
    "track": "TrackLatency",
    "store": "StoreLatency",
}


# The libraries whose calls the detect function's traces show: every AWS call goes through botocore.
TRACED_MODULES = ("botocore",)


def tracing_enabled() -> bool:
    """Powertools' rule (``Tracer._is_tracer_disabled``): on in Lambda, unless
    ``POWERTOOLS_TRACE_DISABLED`` is true or it runs under SAM local or Chalice."""
    if resolve_truthy_env_var_choice(env=os.getenv(constants.TRACER_DISABLED_ENV, "false")):
        return False
    return bool(os.getenv(constants.LAMBDA_TASK_ROOT_ENV)) and not (
        os.getenv(constants.SAM_LOCAL_ENV) or os.getenv(constants.CHALICE_LOCAL_ENV)
    )


class _NoSegment(BaseSegment):
    """The segment of a tracer that records nothing."""

    def close(self, end_time: int | None = None) -> None:
        pass

    def add_subsegment(self, subsegment: Any) -> None:
        pass

    def remove_subsegment(self, subsegment: Any) -> None:
        pass

    def put_annotation(self, key: str, value: Any) -> None:
        pass

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        pass

    def add_exception(self, exception: BaseException, stack: Any, remote: bool = False) -> None:
        pass


class NoTracing(BaseProvider):
    """The tracer's provider where tracing is off: what the X-Ray SDK does when disabled (nothing),
    without importing it."""

    @contextmanager
    def in_subsegment(self, name: Any = None, **kwargs: Any) -> Generator[BaseSegment, None, None]:
        yield _NoSegment()

    def in_subsegment_async(
        self, name: Any = None, **kwargs: Any
    ) -> AbstractAsyncContextManager[BaseSegment]:
        return _no_segment_async()

    def put_annotation(self, key: str, value: Any) -> None:
        pass

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        pass

    def patch(self, modules: Sequence[str]) -> None:
        pass

    def patch_all(self) -> None:
        pass


@asynccontextmanager
async def _no_segment_async() -> Any:
    yield _NoSegment()


def make_tracer(service: str) -> Tracer:
    """The detect function's tracer: X-Ray with only botocore patched where tracing is on, a
    provider that records nothing (no X-Ray SDK import) where it is off."""
    if tracing_enabled():
        return Tracer(service=service, patch_modules=TRACED_MODULES)
    return Tracer(service=service, disabled=True, auto_patch=False, provider=NoTracing())


class Telemetry:
    def __init__(self, settings: Settings) -> None:
        self.logger = Logger(service=settings.aws.service_name)
        self.metrics = Metrics(namespace=settings.aws.metrics_namespace, service=settings.aws.service_name)
        self.tracer = make_tracer(settings.aws.service_name)

    @contextmanager
    def object_scope(self, result_id: str, bucket: str, key: str) -> Iterator[None]:
        """Tag every log line and the trace segment of one object with its result id."""
        self.logger.set_correlation_id(result_id)
        self.logger.append_keys(result_id=result_id, bucket=bucket, object_key=key)
        try:
            with self.tracer.provider.in_subsegment("## scan_object") as subsegment:
                subsegment.put_annotation("result_id", result_id)
                yield
        finally:
            self.logger.remove_keys(["result_id", "bucket", "object_key"])
            self.logger.set_correlation_id(None)

    @contextmanager
    def subsegment(self, name: str) -> Iterator[None]:
        with self.tracer.provider.in_subsegment(f"## {name}"):
            yield

    def record_result(
        self, result: DetectionResult, stage_ms: dict[str, float], total_ms: float, event_time: str
    ) -> None:
        metrics = self.metrics
        metrics.add_metric(name=FILES, unit=MetricUnit.Count, value=1)
        if result.status is Status.FAILED:
            metrics.add_metric(name=FAILED_FILES, unit=MetricUnit.Count, value=1)
        metrics.add_metric(name=FACES, unit=MetricUnit.Count, value=len(result.faces))
        if result.verdict is Verdict.FAKE:
            metrics.add_metric(name=FAKE_VERDICTS, unit=MetricUnit.Count, value=1)
        if result.score is not None:
            metrics.add_metric(name=FAKE_SCORE, unit=MetricUnit.NoUnit, value=result.score)
        timings = {**result.timings_ms, **stage_ms}
        for stage, metric in STAGE_METRICS.items():
            if stage in timings:
                metrics.add_metric(name=metric, unit=MetricUnit.Milliseconds, value=timings[stage])
        metrics.add_metric(name=PROCESSING_LATENCY, unit=MetricUnit.Milliseconds, value=total_ms)
        lag = _since(event_time)
        if lag is not None:
            metrics.add_metric(name=END_TO_END_LATENCY, unit=MetricUnit.Milliseconds, value=lag)
        self.logger.info(
            "scanned",
            extra={
                "status": result.status.value,
                "verdict": result.verdict and result.verdict.value,
                "score": result.score,
                "faces": len(result.faces),
                "media_kind": result.media_kind.value,
                "error_code": result.error and result.error.code.value,
                "declared_ai": bool(result.provenance and result.provenance.declared_ai),
                "classifier_verdict": result.classifier_verdict and result.classifier_verdict.value,
                "timings_ms": timings,
                "model_version": result.model and result.model.version,
            },
        )

    def record_message(self) -> None:
        self.metrics.add_metric(name=MESSAGES, unit=MetricUnit.Count, value=1)

    def record_transient(self, exc: BaseException) -> None:
        self.metrics.add_metric(name=TRANSIENT_ERRORS, unit=MetricUnit.Count, value=1)
        self.logger.exception(
            "transient failure; the message will be retried", extra={"error": f"{type(exc).__name__}: {exc}"}
        )

    def record_deferred(self, key: str, remaining_s: float) -> None:
        self.metrics.add_metric(name=DEFERRED_FILES, unit=MetricUnit.Count, value=1)
        self.logger.warning(
            "too little time left to start a file; it is left to a later invocation",
            extra={"object_key": key, "remaining_s": round(remaining_s, 3)},
        )

    def record_isolated(self, message_id: str) -> None:
        self.metrics.add_metric(name=ISOLATED_MESSAGES, unit=MetricUnit.Count, value=1)
        self.logger.warning(
            "a message whose last scan never came back is handed back: its batch-mates go first",
            extra={"message_id": message_id},
        )

    def record_gave_up(self, key: str, receives: int, exc: BaseException) -> None:
        self.metrics.add_metric(name=GAVE_UP_FILES, unit=MetricUnit.Count, value=1)
        self.logger.error(
            "the last try of a file failed; it is recorded as failed and not retried",
            extra={"object_key": key, "receives": receives, "error": f"{type(exc).__name__}: {exc}"},
        )

    def record_malformed(self, reason: str) -> None:
        self.metrics.add_metric(name=MALFORMED_MESSAGES, unit=MetricUnit.Count, value=1)
        self.logger.error(
            "message is not an S3 notification; it will end in the dead-letter queue",
            extra={"reason": reason},
        )


def _since(event_time: str) -> float | None:
    if not event_time:
        return None
    try:
        start = datetime.fromisoformat(event_time.replace("Z", "+00:00"))
    except ValueError:
        return None
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    return max(0.0, (datetime.now(UTC) - start).total_seconds() * 1000.0)


class ReviewMetrics:
    """EMF metrics of every label the API stores (``api.services.ReviewMetrics``): one EMF document
    a label, written to the function's log, where CloudWatch turns it into the ``Reviewer*``
    metrics. Labelling a result again with the same label changes nothing; with the other label the
    earlier outcome is taken back (-1) and the new one counted (+1)."""

    def __init__(self, settings: Settings) -> None:
        self.namespace = settings.aws.metrics_namespace
        self.service = settings.aws.service_name

    def record(self, result: DetectionResult, feedback: Feedback, previous: Feedback | None) -> None:
        if previous is not None and previous.label == feedback.label:
            return
        values = dict.fromkeys(
            (REVIEWER_AGREEMENT, REVIEWER_OVERTURNED, REVIEWER_FALSE_POSITIVES, REVIEWER_MISSES), 0.0
        )
        changes = [(outcome(result.verdict, feedback.label), 1.0)]
        if previous is not None:
            changes.append((outcome(result.verdict, previous.label), -1.0))
        for said, sign in changes:
            values[REVIEWER_AGREEMENT if said is Outcome.AGREED else REVIEWER_OVERTURNED] += sign
            if said is Outcome.FALSE_POSITIVE:
                values[REVIEWER_FALSE_POSITIVES] += sign
            elif said is Outcome.MISS:
                values[REVIEWER_MISSES] += sign
        emf = AmazonCloudWatchEMFProvider(namespace=self.namespace, service=self.service)
        for name, value in values.items():
            emf.add_metric(name=name, unit=MetricUnit.Count, value=value)
        version = (result.model.version if result.model else None) or "none"
        emf.add_dimension(name=MODEL_VERSION_DIMENSION, value=version)
        emf.add_dimensions(service=self.service)
        emf.flush_metrics()  # one line of JSON on stdout: the function's log
