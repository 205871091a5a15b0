"""What the retrain trigger does in AWS: launch a SageMaker training job on the schedule (unless one
is running), and on the job's state-change event record the outcome, gating and promoting a
completed job's model.

A job counts as running while its record in the models table still waits for its state-change
event: a finished job's model must be gated before the next job starts, and the trigger runs
one invocation at a time (reserved concurrency 1), so two schedule events cannot both launch.
A record that waited far longer than any job may run is settled with ``DescribeTrainingJob``, so
a lost event cannot block retraining forever.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from deepfake_detect.registry.base import ModelRecord, ModelRegistry, ModelStatus, job_version, utc_now
from deepfake_detect.registry.evaluate import Evaluator
from deepfake_detect.registry.feedback import ExportSummary
from deepfake_detect.registry.gate import ArtifactError, unpack_artifact
from deepfake_detect.registry.promote import gate_and_promote, reject
from deepfake_detect.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient

log = logging.getLogger(__name__)

# Outcomes (the handler turns them into metrics; the alarm watches the failed ones).
STARTED, SKIPPED, IGNORED, PROMOTED, REJECTED, FAILED, STOPPED = (
    "started",
    "skipped",
    "ignored",
    "promoted",
    "rejected",
    "failed",
    "stopped",
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
    ) -> None:
        self.settings = settings
        self.sagemaker, self.s3 = sagemaker, s3
        self.registry = registry
        self.evaluator = evaluator  # built on demand: the gate set is downloaded only to gate
        self.export_feedback = export_feedback
        self.clock = clock

    # ---------------------------------------------------------------- launch
    def on_schedule(self) -> dict[str, Any]:
        running = self.running_job()
        if running is not None:
            log.info("training job %s is still running or awaiting its gate: no new job", running)
            return {"outcome": SKIPPED, "running_job": running}
        now = self.clock()
        version = job_version(now)
        job_name = f"{self.settings.training.job_prefix}-{version.replace('.', '-')}"
        exported = self.export_feedback() if self.export_feedback else None
        arguments = self.job_arguments(job_name, version)
        self.sagemaker.create_training_job(**arguments)
        self.registry.put_record(
            ModelRecord(
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
                },
            )
        )
        log.info("started training job %s (model version %s)", job_name, version)
        return {"outcome": STARTED, "job_name": job_name, "version": version}

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
            if self.clock() - started < horizon + _STALE_SLACK:
                return record.job_name
            self._reconcile(record)
        return None

    def _reconcile(self, record: ModelRecord) -> None:
        """A record whose completion event never came: settle it from SageMaker's own status."""
        status = self.sagemaker.describe_training_job(TrainingJobName=record.job_name)["TrainingJobStatus"]
        if status in _TERMINAL:
            record.status = ModelStatus.FAILED
            record.failure_reason = (
                f"no state-change event was received; SageMaker says {status}. "
                "Not gated: start the gate by hand if the model is wanted."
            )
            record.finished_at = self.clock()
            self.registry.put_record(record)
            log.warning("settled stale training record %s: %s", record.job_name, status)

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
                    self.registry,
                    record,
                    onnx_path,
                    self.evaluator(),
                    max_auc_drop=self.settings.training.gate_max_auc_drop,
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
            if str(exc.response.get("Error", {}).get("Code", "")) in ("404", "NoSuchKey"):
                raise ArtifactError(f"the job's model artifact {uri} does not exist") from exc
            raise
        return target


# ---------------------------------------------------------------- events and wiring
STATE_CHANGE = "SageMaker Training Job State Change"


class UnknownEventError(ValueError):
    """An event the trigger does not handle (a mis-wired rule); the invocation fails loudly."""


def handle_event(trigger: RetrainTrigger, event: dict[str, Any]) -> dict[str, Any]:
    """Route a Lambda event: the schedule (or a manual ``{"action": "launch"}``), or a job's state change."""
    if event.get("detail-type") == STATE_CHANGE:
        return trigger.on_state_change(dict(event.get("detail") or {}))
    if event.get("action") == "launch" or event.get("detail-type") == "Scheduled Event":
        return trigger.on_schedule()
    raise UnknownEventError(
        f"not a schedule or training-job event: detail-type "
        f"{event.get('detail-type')!r}, keys {sorted(event)}"
    )


def download_prefix(s3: S3Client, bucket: str, prefix: str, directory: Path) -> Path:
    """Copy every object under ``prefix`` into ``directory`` (the gate set), keeping relative paths."""
    root = directory.resolve()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            target = (root / key[len(prefix) :]).resolve()
            if key.endswith("/") or not target.is_relative_to(root):
                continue  # folder markers, and keys that would land outside the folder
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, key, str(target))
    return root


def aws_trigger(settings: Settings) -> RetrainTrigger:
    """The trigger over the deployment's bucket, tables and parameter (built once per container)."""
    import boto3

    from deepfake_detect.aws.clients import dynamodb_client, s3_client
    from deepfake_detect.aws.feedback import DynamoDBFeedbackStore
    from deepfake_detect.aws.registry import AwsModelRegistry
    from deepfake_detect.aws.stores import S3MediaStore
    from deepfake_detect.registry.evaluate import GateSet, PipelineEvaluator
    from deepfake_detect.registry.feedback import export_channel

    s3 = s3_client(settings)
    sagemaker = boto3.client(
        "sagemaker", region_name=settings.aws.region, endpoint_url=settings.aws.endpoint_url
    )
    registry = AwsModelRegistry.from_settings(settings)

    def evaluator() -> Evaluator:
        # A fresh copy per gate (the set may have changed); one folder, so /tmp does not fill up.
        folder = Path(tempfile.gettempdir()) / "gate-set"
        shutil.rmtree(folder, ignore_errors=True)
        gate = download_prefix(s3, settings.aws.models_bucket, settings.aws.gate_prefix, folder)
        return PipelineEvaluator(settings.pipeline(), GateSet.from_folder(gate))

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

    return RetrainTrigger(settings, sagemaker, s3, registry, evaluator, export)
