"""Logs, metrics and traces of the detect function (Powertools: JSON logs, EMF metrics, X-Ray).

Metric names are the contract with template.yaml's alarms and dashboard; change them together.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from deepfake_detect.core.result import DetectionResult, Status, Verdict
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
END_TO_END_LATENCY = "EndToEndLatency"  # from the S3 event to the stored result
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


class Telemetry:
    def __init__(self, settings: Settings) -> None:
        self.logger = Logger(service=settings.aws.service_name)
        self.metrics = Metrics(namespace=settings.aws.metrics_namespace, service=settings.aws.service_name)
        self.tracer = Tracer(service=settings.aws.service_name)

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
