"""The retrain trigger function: launch a SageMaker training job on the schedule (unless one is
running), and on the job's state-change event record the outcome, gating and promoting a completed
job's model. ``make_retrain_handler`` builds its Lambda handler (``RetrainHandler``) once per
container; each outcome is a metric, and the template's alarms watch ``TrainingJobsFailed``.

A job counts as running while its record in the models table still waits for its state-change
event: a finished job's model must be gated before the next job starts, and the trigger runs
one invocation at a time (reserved concurrency 1). A record that waited far longer than any job
may run is settled with ``DescribeTrainingJob``, so a lost event cannot block retraining forever.

Launching is idempotent. The job is named from the schedule's own time (EventBridge Scheduler's
``<aws.scheduler.scheduled-time>``, the same in every retry of one scheduled run), its record is
written first with a conditional put, and only then is the job created; a retried event finds the
record and starts nothing, or, if the first attempt died between the record and the job, starts the
job under the same name (SageMaker refuses a second job of one name anyway).

Every event first settles what an earlier invocation left half done (``promote.reconcile``: the
SSM copy of the pointer, a ``PROMOTING`` record) and seeds the pointer with the shipped model if
none exists. The stack's ``SeedModelPointer`` custom resource sends a CloudFormation event that does
only that seeding, and answers CloudFormation whatever happens.

The gate's time is bounded so it fits the function's 900 s (rather than moving it to a Processing
job): at most ``gate_max_per_class`` files per class (1,000; ``gate_max_videos_per_class`` = 10 of
them videos), three models (candidate, live, best ever), and a budget (``gate_time_budget_s``,
780 s) past which the evaluation stops and the candidate is rejected rather than killed mid-way.
Measured on this project's 2-vCPU CPU machine with the shipped classifier, on a worst-case gate
set at the bounds (190 photos from london, web_photos, utkface, DFDC, SDFD, StyleGAN2 + 10 FF++
720p videos per class), ``deepfake-detect retrain time-gate --gate-dir <dir>``: images 74 ms mean
(1.07 s max), videos 3.1 s mean (3.9 s max) per file per model; 90 s per model, 270 s for three;
the whole local gate (``retrain --candidate``, two models, bootstrap, report) took 204 s wall, the
bootstrap of two comparisons 1.3 s. The Lambda's 3008 MB give about 1.7 vCPU: three models stay
near 330 s, within the 780 s budget with more than 2x to spare.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from deepfake_detect.registry.base import ModelRecord, ModelRegistry, ModelStatus, job_version, utc_now
from deepfake_detect.registry.evaluate import Evaluator, select_files
from deepfake_detect.registry.feedback import ExportSummary
from deepfake_detect.registry.gate import ArtifactError, unpack_artifact
from deepfake_detect.registry.promote import adopt_baseline, gate_and_promote, reconcile, reject
from deepfake_detect.settings import Settings, get_settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient

log = logging.getLogger(__name__)

LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]

# The function's Powertools objects, once per container, named by the deployment's settings.
_names = get_settings().aws
logger = Logger(service=f"{_names.service_name}-retrain")
metrics = Metrics(namespace=_names.metrics_namespace, service=f"{_names.service_name}-retrain")

# Outcomes (the handler turns them into metrics; the alarm watches the failed ones).
STARTED, SKIPPED, IGNORED, PROMOTED, REJECTED, FAILED, STOPPED, SEEDED, SEED_FAILED, RECONCILED = (
    "started",
    "skipped",
    "ignored",
    "promoted",
    "rejected",
    "failed",
    "stopped",
    "seeded",
    "seed_failed",
    "reconciled",
)
# Outcome -> metric the trigger emits; the names are the contract with template.yaml's alarm.
OUTCOME_METRICS = {
    STARTED: "TrainingJobsStarted",
    SKIPPED: "TrainingLaunchesSkipped",
    IGNORED: "RetrainEventsIgnored",
    FAILED: "TrainingJobsFailed",
    STOPPED: "TrainingJobsFailed",
    PROMOTED: "ModelsPromoted",
    REJECTED: "CandidatesRejected",
    SEEDED: "ModelPointerSeeded",
    SEED_FAILED: "ModelPointerSeedFailed",
    RECONCILED: "RetrainReconciled",
}
_TERMINAL = {"Completed", "Failed", "Stopped"}
# Slack past the job's own time limit before a record without an event is reconciled.
_STALE_SLACK = timedelta(hours=2)


class RetrainTrigger:
    def __init__(
        self,
        settings: Settings,
        sagemaker: SageMakerClient,
        s3: S3Client,
        registry: ModelRegistry,
        evaluator: Callable[[], Evaluator],
        export_feedback: Callable[[], ExportSummary] | None = None,
        clock: Callable[[], datetime] = utc_now,
        shipped_model: Path | None = None,
    ) -> None:
        self.settings = settings
        self.sagemaker, self.s3 = sagemaker, s3
        self.registry = registry
        self.evaluator = evaluator  # built on demand: the gate set is downloaded only to gate
        self.export_feedback = export_feedback
        self.clock = clock
        self.shipped_model = shipped_model  # the classifier baked into the image: the seed
        self.policy = settings.training.gate.policy()

    # ---------------------------------------------------------------- every event
    def prepare(self) -> list[ModelRecord]:
        """Settle what an earlier invocation left half done, then seed the pointer if there is none."""
        settled = reconcile(self.registry)
        self.seed()
        return settled

    def seed(self) -> dict[str, Any]:
        """Point the registry at the shipped model (its version and sha256) unless a pointer exists:
        a cold start then finds the model it already has, and a redeploy never moves the pointer."""
        current = self.registry.current()
        if current is not None:
            return {"outcome": IGNORED, "reason": "the pointer exists", "version": current.version}
        if self.shipped_model is None or not self.shipped_model.is_file():
            return {"outcome": IGNORED, "reason": "no shipped model to seed the pointer with"}
        pointer = adopt_baseline(self.registry, self.shipped_model)
        log.info("model pointer seeded with the shipped model %s", pointer.version)
        return {"outcome": SEEDED, "version": pointer.version, "sha256": pointer.sha256}

    # ---------------------------------------------------------------- launch
    def on_schedule(self, scheduled: datetime | None = None) -> dict[str, Any]:
        """Start one job for the schedule's run at ``scheduled`` (a manual launch: now)."""
        now = self.clock()
        version = job_version((scheduled or now).astimezone(UTC))
        job_name = f"{self.settings.training.job_prefix}-{version.replace('.', '-')}"
        existing = self.registry.get_record(version)
        if existing is not None:
            return self._resume(existing)
        running = self.running_job()
        if running is not None:
            log.info("training job %s is still running or awaiting its gate: no new job", running)
            return {"outcome": SKIPPED, "running_job": running}
        exported = self.export_feedback() if self.export_feedback else None
        arguments = self.job_arguments(job_name, version)
        record = ModelRecord(
            version=version,
            status=ModelStatus.TRAINING,
            job_name=job_name,
            created_at=now,
            started_at=now,
            artifact=f"{arguments['OutputDataConfig']['S3OutputPath']}{job_name}/output/model.tar.gz",
            data={
                "channels": {
                    c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
                    for c in arguments["InputDataConfig"]
                },
                "feedback": exported.as_dict() if exported else None,
                "hyperparameters": arguments["HyperParameters"],
                "instance_type": self.settings.training.instance_type,
                "spot": self.settings.training.use_spot,
                "scheduled_time": scheduled.isoformat() if scheduled else None,
            },
        )
        # The record first, conditionally: of two deliveries of one scheduled run only one gets here.
        if not self.registry.create_record(record):
            return {"outcome": SKIPPED, "reason": f"{job_name} was already launched", "job_name": job_name}
        return self._create_job(record, arguments)

    def _create_job(self, record: ModelRecord, arguments: dict[str, Any]) -> dict[str, Any]:
        try:
            self.sagemaker.create_training_job(**arguments)
        except ClientError as exc:
            if _error_code(exc) == "ResourceInUse":  # SageMaker's own guard: the name is taken
                return {
                    "outcome": SKIPPED,
                    "reason": f"{record.job_name} already exists",
                    "job_name": record.job_name,
                }
            record.status, record.finished_at = ModelStatus.FAILED, self.clock()
            record.failure_reason = f"CreateTrainingJob failed: {exc}"
            self.registry.put_record(record)
            raise
        log.info("started training job %s (model version %s)", record.job_name, record.version)
        return {"outcome": STARTED, "job_name": record.job_name, "version": record.version}

    def _resume(self, record: ModelRecord) -> dict[str, Any]:
        """A retried delivery of a scheduled run whose record exists."""
        skipped = {"outcome": SKIPPED, "job_name": record.job_name, "version": record.version}
        if record.status is not ModelStatus.TRAINING or self._job_status(record.job_name) is not None:
            return {**skipped, "reason": f"{record.job_name} was already launched ({record.status.value})"}
        log.warning("record %s has no training job (the launch died in between): starting it", record.version)
        return self._create_job(record, self.job_arguments(record.job_name, record.version))

    def _job_status(self, job_name: str) -> str | None:
        """SageMaker's status of the job, None if there is no such job."""
        try:
            job = self.sagemaker.describe_training_job(TrainingJobName=job_name)
        except ClientError as exc:
            message = str(exc.response.get("Error", {}).get("Message", "")).lower()
            if _error_code(exc) in ("ValidationException", "ResourceNotFound") and (
                "not found" in message or "could not find" in message
            ):
                return None
            raise
        return str(job["TrainingJobStatus"])

    def job_arguments(self, job_name: str, version: str) -> dict[str, Any]:
        s = self.settings
        data = f"s3://{s.aws.models_bucket}/{s.training.data_prefix}"

        def channel(name: str) -> dict[str, Any]:
            source = {
                "S3DataType": "S3Prefix",
                "S3Uri": f"{data}{name}/",
                "S3DataDistributionType": "FullyReplicated",
            }
            return {"ChannelName": name, "InputMode": "File", "DataSource": {"S3DataSource": source}}

        stopping: dict[str, Any] = {"MaxRuntimeInSeconds": s.training.max_run_s}
        arguments: dict[str, Any] = {
            "TrainingJobName": job_name,
            "AlgorithmSpecification": {"TrainingImage": s.training.image_uri, "TrainingInputMode": "File"},
            "RoleArn": s.training.role_arn,
            # The card's version is the registry's version; the rest are `python -m training.train` flags.
            "HyperParameters": {**s.training.hyperparameters, "version": version},
            "InputDataConfig": [channel("shared"), channel("feedback")],
            "OutputDataConfig": {"S3OutputPath": f"s3://{s.aws.models_bucket}/training-jobs/"},
            "ResourceConfig": {
                "InstanceType": s.training.instance_type,
                "InstanceCount": 1,
                "VolumeSizeInGB": s.training.volume_gb,
            },
            "StoppingCondition": stopping,
            "EnableManagedSpotTraining": s.training.use_spot,
            # Training finds these folders by SageMaker's layout on its own (training/config.py);
            # the variables say the same for anyone reading the job, and win where they differ.
            "Environment": {
                "SM_CHANNEL_SHARED": "/opt/ml/input/data/shared",
                "SM_CHANNEL_FEEDBACK": "/opt/ml/input/data/feedback",
                "SM_MODEL_DIR": "/opt/ml/model",
                "SM_OUTPUT_DATA_DIR": "/opt/ml/output/data",
                "PYTHONUNBUFFERED": "1",
            },
            "Tags": [{"Key": "deepfake-detect:model-version", "Value": version}],
        }
        if s.training.use_spot:
            # A spot job may wait for capacity and be interrupted: it resumes from its checkpoints.
            stopping["MaxWaitTimeInSeconds"] = max(s.training.max_wait_s, s.training.max_run_s)
            arguments["CheckpointConfig"] = {"S3Uri": f"s3://{s.aws.models_bucket}/checkpoints/{job_name}/"}
        return arguments

    def running_job(self) -> str | None:
        """The job still running or awaiting its gate, if any. Every job this trigger starts is
        recorded, so the records answer; ``DescribeTrainingJob`` settles only records that waited
        longer than a job can run (ListTrainingJobs would need a wildcard IAM resource)."""
        horizon = timedelta(seconds=max(self.settings.training.max_wait_s, self.settings.training.max_run_s))
        for record in self.registry.records():
            if record.status is not ModelStatus.TRAINING:
                continue
            started = record.started_at or record.created_at
            if self.clock() - started < horizon + _STALE_SLACK or not self._settle(record):
                return record.job_name
        return None

    def _settle(self, record: ModelRecord) -> bool:
        """A record whose completion event never came: settle it from SageMaker's own status.
        False when SageMaker says the job still runs."""
        status = self._job_status(record.job_name)
        if status is None or status in _TERMINAL:
            record.status = ModelStatus.FAILED
            record.failure_reason = (
                f"no state-change event was received; SageMaker says {status}. "
                "Not gated: start the gate by hand if the model is wanted."
                if status
                else "the training job was never created (the launch died after its record)"
            )
            record.finished_at = self.clock()
            self.registry.put_record(record)
            log.warning("settled stale training record %s: %s", record.job_name, status)
            return True
        return False

    # ---------------------------------------------------------------- completion
    def on_state_change(self, detail: dict[str, Any]) -> dict[str, Any]:
        job_name = str(detail.get("TrainingJobName", ""))
        status = str(detail.get("TrainingJobStatus", ""))
        record = next((r for r in self.registry.records() if r.job_name == job_name), None)
        if record is None:
            return {"outcome": IGNORED, "reason": f"{job_name!r} was not started by this trigger"}
        if record.status is not ModelStatus.TRAINING:
            return {
                "outcome": IGNORED,
                "reason": f"{job_name} is already {record.status.value}",
                "version": record.version,
            }  # EventBridge delivers at least once
        if status not in _TERMINAL:
            return {"outcome": IGNORED, "reason": f"{job_name} is {status}", "version": record.version}
        record.finished_at = self.clock()
        if status != "Completed":
            record.status = ModelStatus.FAILED if status == "Failed" else ModelStatus.STOPPED
            record.failure_reason = str(detail.get("FailureReason") or status)
            self.registry.put_record(record)
            log.error("training job %s ended %s: %s", job_name, status, record.failure_reason)
            return {
                "outcome": FAILED if status == "Failed" else STOPPED,
                "job_name": job_name,
                "version": record.version,
                "reason": record.failure_reason,
            }
        artifact = str((detail.get("ModelArtifacts") or {}).get("S3ModelArtifacts") or record.artifact)
        record.artifact = artifact
        with tempfile.TemporaryDirectory(prefix="candidate-") as tmp:
            try:
                onnx_path = unpack_artifact(self._download(artifact, Path(tmp)), Path(tmp) / "model")
            except ArtifactError as exc:
                decided = reject(self.registry, record, [str(exc)])
            else:
                decided = gate_and_promote(
                    self.registry, record, onnx_path, self.evaluator(), policy=self.policy
                )
        return {
            "outcome": PROMOTED if decided.status is ModelStatus.PROMOTED else REJECTED,
            "job_name": job_name,
            "version": decided.version,
            "reasons": decided.decision.reasons if decided.decision else [],
        }

    def _download(self, uri: str, directory: Path) -> Path:
        if not uri.startswith("s3://"):
            raise ArtifactError(f"the job's model artifact is not an S3 URI: {uri!r}")
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        target = directory / "model.tar.gz"
        try:
            self.s3.download_file(bucket, key, str(target))
        except ClientError as exc:
            if _error_code(exc) in ("404", "NoSuchKey"):
                raise ArtifactError(f"the job's model artifact {uri} does not exist") from exc
            raise
        return target


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


# ---------------------------------------------------------------- events and wiring
STATE_CHANGE = "SageMaker Training Job State Change"


class UnknownEventError(ValueError):
    """An event the trigger does not handle (a mis-wired rule); the invocation fails loudly."""


def scheduled_time(event: dict[str, Any]) -> datetime | None:
    """The scheduled run's time: EventBridge Scheduler's ``scheduled_time`` (the template's Input
    carries ``<aws.scheduler.scheduled-time>``) or an EventBridge rule's ``time``; None: a manual launch."""
    value = event.get("scheduled_time") or (
        event.get("time") if event.get("detail-type") == "Scheduled Event" else None
    )
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise UnknownEventError(f"the schedule's time {value!r} is not an ISO 8601 time") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def handle_event(trigger: RetrainTrigger, event: dict[str, Any]) -> dict[str, Any]:
    """Route a Lambda event: the schedule (or a manual ``{"action": "launch"}``), a job's state change,
    the stack's seeding custom resource, or ``{"action": "reconcile"}``. Each starts by settling
    half-done work and seeding a missing pointer (``prepare``)."""
    if "RequestType" in event and "ResponseURL" in event:
        return handle_custom_resource(trigger, event)
    if event.get("detail-type") == STATE_CHANGE:
        trigger.prepare()
        return trigger.on_state_change(dict(event.get("detail") or {}))
    if event.get("action") == "launch" or event.get("detail-type") == "Scheduled Event":
        when = scheduled_time(event)
        trigger.prepare()
        return trigger.on_schedule(when)
    if event.get("action") == "reconcile":  # by hand: after a failed event, or a stack upgrade
        settled = trigger.prepare()
        current = trigger.registry.current()
        return {
            "outcome": RECONCILED,
            "settled": {r.version: r.status.value for r in settled},
            "version": current.version if current else None,
        }
    raise UnknownEventError(
        f"not a schedule or training-job event: detail-type "
        f"{event.get('detail-type')!r}, keys {sorted(event)}"
    )


def send_cfn_response(url: str, body: dict[str, Any]) -> None:
    """PUT the custom resource's answer to CloudFormation's presigned URL (an empty content type is
    what the URL was signed for)."""
    data = json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(data))}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def handle_custom_resource(
    trigger: RetrainTrigger,
    event: dict[str, Any],
    respond: Callable[[str, dict[str, Any]], None] = send_cfn_response,
) -> dict[str, Any]:
    """``Custom::ModelPointerSeed``: on Create and Update, seed the pointer only if absent; on Delete,
    nothing (the pointer and the promoted models outlive the stack). Always answers CloudFormation,
    so a failure fails the deploy with its reason instead of hanging it."""
    physical = str(event.get("PhysicalResourceId") or f"{trigger.settings.aws.model_parameter}-seed")
    outcome: dict[str, Any]
    try:
        if event["RequestType"] in ("Create", "Update"):
            reconcile(trigger.registry)
            outcome = trigger.seed()
            current = trigger.registry.current()
            outcome.setdefault("version", current.version if current else None)
        else:
            outcome = {"outcome": IGNORED, "reason": "the pointer outlives the stack"}
        status, reason = "SUCCESS", outcome.get("reason", outcome["outcome"])
    except Exception as exc:
        log.exception("seeding the model pointer failed")
        outcome = {"outcome": SEED_FAILED, "reason": str(exc)}
        status, reason = "FAILED", f"seeding the model pointer failed: {exc}"[:1000]
    respond(
        str(event["ResponseURL"]),
        {
            "Status": status,
            "Reason": f"{reason} (see CloudWatch Logs)",
            "PhysicalResourceId": physical,
            "StackId": event.get("StackId"),
            "RequestId": event.get("RequestId"),
            "LogicalResourceId": event.get("LogicalResourceId"),
            "NoEcho": False,
            "Data": {"Version": str(outcome.get("version") or "")},
        },
    )
    return outcome


def download_prefix(
    s3: S3Client,
    bucket: str,
    prefix: str,
    directory: Path,
    keep: Callable[[list[str]], list[str]] | None = None,
) -> Path:
    """Copy the objects under ``prefix`` into ``directory`` (the gate set), keeping relative paths;
    ``keep`` picks which of the relative names to copy (all by default)."""
    root = directory.resolve()
    names: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            target = (root / key[len(prefix) :]).resolve()
            if key.endswith("/") or not target.is_relative_to(root):
                continue  # folder markers, and keys that would land outside the folder
            names.append(target.relative_to(root).as_posix())
    for name in keep(names) if keep else names:
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(bucket, prefix + name, str(target))
    return root


def aws_trigger(settings: Settings) -> RetrainTrigger:
    """The trigger over the deployment's bucket, tables and parameter (built once per container)."""
    from dataclasses import replace

    import boto3

    from deepfake_detect.aws.adapters.clients import dynamodb_client, s3_client
    from deepfake_detect.aws.adapters.feedback import DynamoDBFeedbackStore
    from deepfake_detect.aws.adapters.registry import AwsModelRegistry
    from deepfake_detect.aws.adapters.stores import S3MediaStore
    from deepfake_detect.registry.evaluate import GateSet, PipelineEvaluator
    from deepfake_detect.registry.feedback import export_channel

    s3 = s3_client(settings)
    sagemaker = boto3.client(
        "sagemaker", region_name=settings.aws.region, endpoint_url=settings.aws.endpoint_url
    )
    registry = AwsModelRegistry.from_settings(settings)

    bounds = {
        "max_per_class": settings.training.gate_max_per_class,
        "max_videos_per_class": settings.training.gate_max_videos_per_class,
    }
    found: dict[str, int] = {}

    def keep(names: list[str]) -> list[str]:
        chosen, counts = select_files(names, **bounds)
        found.update(counts)
        return chosen

    def evaluator() -> Evaluator:
        deadline = time.monotonic() + settings.training.gate_time_budget_s
        # A fresh copy per gate (the set may have changed); one folder, so /tmp does not fill up.
        folder = Path(tempfile.gettempdir()) / "gate-set"
        shutil.rmtree(folder, ignore_errors=True)
        root = download_prefix(s3, settings.aws.models_bucket, settings.aws.gate_prefix, folder, keep)
        gate = replace(GateSet.from_folder(root, **bounds), available=dict(found))
        return PipelineEvaluator(settings.pipeline(), gate, deadline=deadline)

    export: Callable[[], ExportSummary] | None = None
    if settings.aws.feedback_table:
        feedback = DynamoDBFeedbackStore(dynamodb_client(settings), settings.aws.feedback_table)

        def export() -> ExportSummary:
            return export_channel(
                feedback,
                S3MediaStore(s3, settings.aws.upload_bucket),
                S3MediaStore(s3, settings.aws.models_bucket),
                prefix=f"{settings.training.data_prefix}feedback/",
            )

    return RetrainTrigger(
        settings, sagemaker, s3, registry, evaluator, export, shipped_model=settings.classifier_path
    )


class RetrainHandler:
    """The retrain trigger's Lambda handler over one ``RetrainTrigger`` (built once per container:
    its clients and registry); every outcome is logged and counted (``OUTCOME_METRICS``)."""

    def __init__(self, trigger: RetrainTrigger) -> None:
        self.trigger = trigger
        handle = logger.inject_lambda_context(clear_state=True)(self.handle)
        self._handle: LambdaHandler = metrics.log_metrics(handle)

    def __call__(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return self._handle(event, context)

    def handle(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        outcome = handle_event(self.trigger, event)
        metrics.add_metric(name=OUTCOME_METRICS[outcome["outcome"]], unit=MetricUnit.Count, value=1)
        logger.info("retrain trigger", extra=outcome)
        return outcome


def make_retrain_handler(settings: Settings, trigger: RetrainTrigger | None = None) -> RetrainHandler:
    """The handler over the deployment's bucket, tables and parameter unless a test passes its own
    trigger; call once per container."""
    return RetrainHandler(trigger or aws_trigger(settings))
