"""Issue 5's scenarios on the local AWS stack (moto server: S3, SSM, SageMaker; DynamoDB Local):
the real retrain-trigger Lambda module, the real gate (the detection pipeline on a small gate set
in the models bucket), and a detect worker whose analyzer is the live model swap.

SageMaker does not train here: moto records the job, and the test plays SageMaker's part by
placing ``model.tar.gz`` in the models bucket and delivering the state-change event.
"""

from __future__ import annotations

import importlib
import json
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from deepfake_detect.aws.detect import aws_dependencies, make_detect_handler
from deepfake_detect.aws.feedback import DynamoDBFeedbackStore
from deepfake_detect.aws.registry import AwsModelRegistry
from deepfake_detect.aws.stores import DynamoDBResultStore
from deepfake_detect.aws.wiring import live_detector
from deepfake_detect.core.model_card import ModelCard
from deepfake_detect.core.result import Status
from deepfake_detect.registry.base import ModelRecord, ModelStatus, utc_now
from deepfake_detect.registry.feedback import Feedback, Label
from deepfake_detect.registry.live import LivePipeline
from deepfake_detect.settings import Settings, get_settings
from infra.local.stack import LocalAwsStack, StackResources
from infra.local.worker import LambdaWorker, LocalLambdaContext
from tests.integration.conftest import drain
from tests.support.retrain import build_cast_classifier, build_gate_set, model_tarball
from tests.support.tiny_model import build_tiny_classifier

pytestmark = pytest.mark.integration

TRAINING_IMAGE = "000000000000.dkr.ecr.us-east-1.amazonaws.com/deepfake-train:1"
TRAINING_ROLE = "arn:aws:iam::000000000000:role/deepfake-training"
STATE_CHANGE = "SageMaker Training Job State Change"


@pytest.fixture
def retrain_settings(
    aws_stack: LocalAwsStack,
    resources: StackResources,
    cloud_settings: Settings,
    shared_data: Path,
    tmp_path: Path,
) -> Settings:
    """The template's models and feedback tables, and a gate set in the models bucket."""
    declared = aws_stack.template["Resources"]
    dynamodb = aws_stack.client("dynamodb")
    tables = {
        "ModelsTable": f"deepfake-models-{resources.suffix}",
        "FeedbackTable": f"deepfake-feedback-{resources.suffix}",
    }
    for logical, name in tables.items():
        props = declared[logical]["Properties"]
        dynamodb.create_table(
            TableName=name,
            AttributeDefinitions=props["AttributeDefinitions"],
            KeySchema=props["KeySchema"],
            BillingMode=props["BillingMode"],
        )
        dynamodb.get_waiter("table_exists").wait(TableName=name)
    gate = build_gate_set(shared_data, tmp_path / "gate")
    s3 = aws_stack.client("s3")
    for path in sorted(gate.rglob("*")):
        if path.is_file():
            s3.upload_file(str(path), resources.models_bucket, f"gate/{path.relative_to(gate).as_posix()}")
    return cloud_settings.updated(
        {
            "aws.models_table": tables["ModelsTable"],
            "aws.feedback_table": tables["FeedbackTable"],
            "training.image_uri": TRAINING_IMAGE,
            "training.role_arn": TRAINING_ROLE,
            "training.instance_type": "ml.g5.xlarge",
            "training.max_run_s": 7200,
            "training.hyperparameters": {"epochs": "6"},
            "model_refresh_s": 0.0,
        }
    )


@pytest.fixture
def trigger_handler(
    aws_stack: LocalAwsStack, retrain_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[dict[str, Any]], dict[str, Any]]]:
    """``functions/retrain_trigger/app.py`` imported the way Lambda does, with the stack's environment."""
    env = aws_stack.environment(retrain_settings)
    for group, name in (
        ("aws", "models_table"),
        ("aws", "feedback_table"),
        ("aws", "gate_prefix"),
        ("training", "image_uri"),
        ("training", "role_arn"),
        ("training", "instance_type"),
        ("training", "max_run_s"),
    ):
        env[f"DEEPFAKE_{group}_{name}".upper()] = str(getattr(getattr(retrain_settings, group), name))
    env["DEEPFAKE_TRAINING_HYPERPARAMETERS"] = json.dumps(retrain_settings.training.hyperparameters)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    sys.modules.pop("functions.retrain_trigger.app", None)
    module: ModuleType = importlib.import_module("functions.retrain_trigger.app")
    get_settings.cache_clear()

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = module.lambda_handler(event, LocalLambdaContext("retrain-local", 900.0))
        return result

    yield invoke
    sys.modules.pop("functions.retrain_trigger.app", None)


@pytest.fixture
def registry(aws_stack: LocalAwsStack, retrain_settings: Settings) -> AwsModelRegistry:
    return AwsModelRegistry(
        aws_stack.client("s3"),
        aws_stack.client("dynamodb"),
        aws_stack.client("ssm"),
        bucket=retrain_settings.aws.models_bucket,
        table=retrain_settings.aws.models_table,
        parameter=retrain_settings.aws.model_parameter,
    )


def schedule_event() -> dict[str, Any]:
    return {"action": "launch"}  # the schedule's Input in template.yaml


def state_change(job: str, status: str, artifact: str | None = None, reason: str = "") -> dict[str, Any]:
    detail: dict[str, Any] = {"TrainingJobName": job, "TrainingJobStatus": status}
    if artifact:
        detail["ModelArtifacts"] = {"S3ModelArtifacts": artifact}
    if reason:
        detail["FailureReason"] = reason
    return {"version": "0", "source": "aws.sagemaker", "detail-type": STATE_CHANGE, "detail": detail}


def finish_job(
    aws_stack: LocalAwsStack, settings: Settings, job: str, onnx_path: Path | None, data: bytes | None = None
) -> str:
    """Play SageMaker: write the job's model.tar.gz where the job's output path says."""
    key = f"training-jobs/{job}/output/model.tar.gz"
    body = data if data is not None else model_tarball(onnx_path)  # type: ignore[arg-type]
    aws_stack.client("s3").put_object(Bucket=settings.aws.models_bucket, Key=key, Body=body)
    return f"s3://{settings.aws.models_bucket}/{key}"


def serve_version(registry: AwsModelRegistry, onnx_path: Path, version: str) -> None:
    """Make ``onnx_path`` the current model under ``version`` (a model promoted earlier)."""
    card = ModelCard.load(onnx_path.with_suffix(".json"))
    card.model_copy(update={"version": version}).save(onnx_path.with_suffix(".json"))
    pointer = registry.publish(version, onnx_path, onnx_path.with_suffix(".json"))
    registry.put_record(
        ModelRecord(
            version=version, status=ModelStatus.PROMOTED, sha256=pointer.sha256, promoted_at=utc_now()
        )
    )
    registry.set_current(pointer)


class DetectWorker:
    """The detect handler over the live model swap, fed by the stack's queue."""

    def __init__(self, aws_stack: LocalAwsStack, resources: StackResources, settings: Settings) -> None:
        self.stack, self.resources = aws_stack, resources
        self.analyzer = live_detector(settings)  # the hook the detect function uses
        assert isinstance(self.analyzer, LivePipeline)
        handler = make_detect_handler(settings, aws_dependencies(settings, detector=self.analyzer))
        self.worker = LambdaWorker(
            aws_stack.client("sqs"),
            resources.queue_url,
            resources.queue_arn,
            handler,
            batch_size=10,
            timeout_s=60.0,
        )
        self.results = DynamoDBResultStore(aws_stack.client("dynamodb"), resources.results_table)

    def scan(self, path: Path) -> Any:
        result_id = uuid.uuid4().hex
        self.stack.client("s3").put_object(
            Bucket=self.resources.upload_bucket,
            Key=f"uploads/{result_id}/{path.name}",
            Body=path.read_bytes(),
        )

        def done() -> bool:
            result = self.results.get(result_id)
            return result is not None and result.status in (Status.DONE, Status.FAILED)

        drain(self.worker, done, timeout_s=60.0)
        result = self.results.get(result_id)
        assert result is not None and result.status is Status.DONE, result
        return result


def test_schedule_starts_one_training_job(
    aws_stack: LocalAwsStack,
    resources: StackResources,
    retrain_settings: Settings,
    registry: AwsModelRegistry,
    trigger_handler: Callable[[dict[str, Any]], dict[str, Any]],
    face_photo: Path,
) -> None:
    # A reviewer label waiting to be exported as the feedback channel.
    s3 = aws_stack.client("s3")
    s3.put_object(Bucket=resources.upload_bucket, Key="uploads/r1/face.jpg", Body=face_photo.read_bytes())
    DynamoDBFeedbackStore(aws_stack.client("dynamodb"), retrain_settings.aws.feedback_table).put(
        Feedback(result_id="r1", label=Label.REAL, media_key="uploads/r1/face.jpg", path="face.jpg")
    )

    outcome = trigger_handler(schedule_event())
    assert outcome["outcome"] == "started"
    sagemaker = aws_stack.client("sagemaker")
    job = sagemaker.describe_training_job(TrainingJobName=outcome["job_name"])
    assert job["AlgorithmSpecification"]["TrainingImage"] == TRAINING_IMAGE
    assert job["RoleArn"] == TRAINING_ROLE
    assert job["ResourceConfig"]["InstanceType"] == "ml.g5.xlarge"
    assert job["ResourceConfig"]["InstanceCount"] == 1
    assert job["EnableManagedSpotTraining"] is True
    assert job["StoppingCondition"]["MaxRuntimeInSeconds"] == 7200
    assert job["HyperParameters"] == {"epochs": "6", "version": outcome["version"]}
    bucket = retrain_settings.aws.models_bucket
    assert {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in job["InputDataConfig"]} == {
        "shared": f"s3://{bucket}/training-data/shared/",
        "feedback": f"s3://{bucket}/training-data/feedback/",
    }
    assert job["OutputDataConfig"]["S3OutputPath"] == f"s3://{bucket}/training-jobs/"
    # The feedback channel holds the labelled file and its label.
    labels = s3.get_object(Bucket=bucket, Key="training-data/feedback/labels.csv")["Body"].read().decode()
    assert labels.splitlines()[1].startswith("media/r1.jpg,real,r1,")
    assert (
        s3.get_object(Bucket=bucket, Key="training-data/feedback/media/r1.jpg")["Body"].read()
        == face_photo.read_bytes()
    )
    record = registry.get_record(outcome["version"])
    assert record is not None and record.status is ModelStatus.TRAINING
    assert record.job_name == outcome["job_name"] and record.data["feedback"]["labelled"] == 1

    # A second schedule event while the job runs (or awaits its gate) starts nothing.
    assert trigger_handler(schedule_event())["outcome"] == "skipped"
    jobs = sagemaker.list_training_jobs(NameContains=retrain_settings.training.job_prefix)
    assert len(jobs["TrainingJobSummaries"]) == 1


def test_better_candidate_is_promoted_and_served_on_the_next_file(
    aws_stack: LocalAwsStack,
    resources: StackResources,
    retrain_settings: Settings,
    registry: AwsModelRegistry,
    trigger_handler: Callable[[dict[str, Any]], dict[str, Any]],
    face_photo: Path,
    tmp_path: Path,
) -> None:
    serve_version(registry, build_tiny_classifier(tmp_path / "poor", seed=1), "poor-1")
    worker = DetectWorker(aws_stack, resources, retrain_settings)
    assert worker.scan(face_photo).model.version == "poor-1"

    started = trigger_handler(schedule_event())
    artifact = finish_job(
        aws_stack,
        retrain_settings,
        started["job_name"],
        build_cast_classifier(tmp_path / "job", version="from-training"),
    )
    outcome = trigger_handler(state_change(started["job_name"], "Completed", artifact))
    assert outcome["outcome"] == "promoted", outcome

    version = started["version"]
    # Read as the API reads it (CurrentModelCard goes through the registry's pointer).
    pointer = registry.current()
    assert pointer is not None and registry.card(pointer).version == version
    assert pointer.version == version and pointer.onnx_key == f"models/{version}/deepfake_classifier.onnx"
    record = registry.get_record(version)
    assert record is not None and record.status is ModelStatus.PROMOTED
    assert record.decision is not None and record.decision.current_version == "poor-1"
    assert record.decision.candidate is not None and record.decision.candidate.auc == 1.0
    assert record.decision.current is not None and record.decision.current.auc is not None
    assert record.decision.current.auc < 1.0
    # The detect worker picks the new model up on its next file, without a restart.
    result = worker.scan(face_photo)
    assert result.model.version == version
    assert result.model.sha256 == registry.current().sha256  # type: ignore[union-attr]


def test_worse_candidate_is_rejected_and_recorded(
    aws_stack: LocalAwsStack,
    retrain_settings: Settings,
    registry: AwsModelRegistry,
    trigger_handler: Callable[[dict[str, Any]], dict[str, Any]],
    tmp_path: Path,
) -> None:
    serve_version(registry, build_cast_classifier(tmp_path / "good", version="x"), "good-1")
    started = trigger_handler(schedule_event())
    artifact = finish_job(
        aws_stack, retrain_settings, started["job_name"], build_tiny_classifier(tmp_path / "job", seed=1)
    )
    outcome = trigger_handler(state_change(started["job_name"], "Completed", artifact))
    assert outcome["outcome"] == "rejected"
    assert any("AUC" in reason for reason in outcome["reasons"])
    assert registry.current().version == "good-1"  # type: ignore[union-attr]
    record = registry.get_record(started["version"])
    assert record is not None and record.status is ModelStatus.REJECTED
    assert record.decision is not None and record.decision.current is not None
    assert record.decision.current.auc == 1.0 and record.decision.candidate is not None
    assert record.decision.candidate.auc is not None and record.decision.candidate.auc < 0.995
    s3 = aws_stack.client("s3")
    listed = s3.list_objects_v2(
        Bucket=retrain_settings.aws.models_bucket, Prefix=f"models/{started['version']}/"
    )
    assert listed["KeyCount"] == 0  # a rejected model is never published


@pytest.mark.parametrize("damage", ["not_a_tarball", "corrupt_onnx"])
def test_corrupt_artifact_is_rejected(
    aws_stack: LocalAwsStack,
    retrain_settings: Settings,
    registry: AwsModelRegistry,
    trigger_handler: Callable[[dict[str, Any]], dict[str, Any]],
    tmp_path: Path,
    damage: str,
) -> None:
    before = registry.current()
    started = trigger_handler(schedule_event())
    if damage == "not_a_tarball":
        artifact = finish_job(
            aws_stack, retrain_settings, started["job_name"], None, b"\x1f\x8b\x08 truncated"
        )
    else:
        model = build_cast_classifier(tmp_path / "job", version="x")
        model.write_bytes(model.read_bytes()[:200])  # a half-written file
        artifact = finish_job(aws_stack, retrain_settings, started["job_name"], model)
    outcome = trigger_handler(state_change(started["job_name"], "Completed", artifact))
    assert outcome["outcome"] == "rejected" and outcome["reasons"]
    assert registry.current() == before
    assert registry.get_record(started["version"]).status is ModelStatus.REJECTED  # type: ignore[union-attr]


def test_failed_job_is_recorded_and_never_promoted(
    aws_stack: LocalAwsStack,
    retrain_settings: Settings,
    registry: AwsModelRegistry,
    trigger_handler: Callable[[dict[str, Any]], dict[str, Any]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = registry.current()
    started = trigger_handler(schedule_event())
    # Even with a model in place, a failed job's output is never looked at.
    finish_job(
        aws_stack, retrain_settings, started["job_name"], build_cast_classifier(tmp_path / "j", version="x")
    )
    capsys.readouterr()
    outcome = trigger_handler(state_change(started["job_name"], "Failed", reason="AlgorithmError: CUDA OOM"))
    assert outcome["outcome"] == "failed"
    assert "TrainingJobsFailed" in capsys.readouterr().out  # the EMF metric the alarm watches
    record = registry.get_record(started["version"])
    assert record is not None and record.status is ModelStatus.FAILED
    assert record.failure_reason == "AlgorithmError: CUDA OOM"
    assert registry.current() == before
    # The next schedule is not blocked by the failed job.
    assert trigger_handler(schedule_event())["outcome"] in ("started", "skipped")


def test_rollback_restores_the_earlier_model(
    aws_stack: LocalAwsStack,
    resources: StackResources,
    retrain_settings: Settings,
    registry: AwsModelRegistry,
    trigger_handler: Callable[[dict[str, Any]], dict[str, Any]],
    face_photo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    serve_version(registry, build_tiny_classifier(tmp_path / "poor", seed=1), "poor-1")
    started = trigger_handler(schedule_event())
    artifact = finish_job(
        aws_stack, retrain_settings, started["job_name"], build_cast_classifier(tmp_path / "job", version="x")
    )
    assert trigger_handler(state_change(started["job_name"], "Completed", artifact))["outcome"] == "promoted"
    worker = DetectWorker(aws_stack, resources, retrain_settings)
    assert worker.scan(face_photo).model.version == started["version"]

    from deepfake_detect.cli import main

    get_settings.cache_clear()  # the trigger fixture exported the stack's DEEPFAKE_* environment
    assert main(["rollback", "--aws"]) == 0
    assert f"{started['version']} -> poor-1" in capsys.readouterr().out
    assert (registry.current() or pytest.fail("no pointer")).version == "poor-1"
    assert registry.get_record(started["version"]).status is ModelStatus.ROLLED_BACK  # type: ignore[union-attr]
    assert worker.scan(face_photo).model.version == "poor-1"
