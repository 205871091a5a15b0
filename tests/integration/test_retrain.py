"""Issue 5's and issue 9's scenarios on the local AWS stack (moto server: S3, SSM, SageMaker;
DynamoDB Local): the real retrain-trigger Lambda module, the real gate (the detection pipeline on a
small gate set in the models bucket), and a detect worker whose analyzer is the live model swap.

SageMaker does not train here: moto records the job, and the test plays SageMaker's part by
placing ``model.tar.gz`` in the models bucket and delivering the state-change event. Crashes are
simulated by making one call raise where the Lambda would have died.

The gate set has 5 real and 5 fake files, so these tests lower ``training.gate.min_per_class`` to 5 (the
default of 20 is exercised in ``test_the_default_minimum_rejects_a_small_gate_set``).
"""

from __future__ import annotations

import importlib
import json
import re
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from deepfake_detect.aws.adapters.feedback import DynamoDBFeedbackStore
from deepfake_detect.aws.adapters.registry import AwsModelRegistry
from deepfake_detect.aws.adapters.stores import DynamoDBResultStore
from deepfake_detect.aws.handlers.detect import aws_dependencies, make_detect_handler
from deepfake_detect.aws.wiring import live_detector
from deepfake_detect.core.hashing import file_sha256
from deepfake_detect.core.model_card import ModelCard
from deepfake_detect.core.result import Status
from deepfake_detect.registry.base import (
    ModelPointer,
    ModelRecord,
    ModelStatus,
    PointerConflictError,
    utc_now,
)
from deepfake_detect.registry.feedback import Feedback, Label
from deepfake_detect.registry.live import LivePipeline
from deepfake_detect.registry.promote import rollback
from deepfake_detect.settings import PROJECT_ROOT, Settings, as_environment, get_settings
from infra.local.stack import LocalAwsStack, StackResources
from infra.local.worker import LambdaWorker, LocalLambdaContext
from tests.support.local_stack import drain
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
    # provision() created the template's models and feedback tables with the others.
    tables = {"ModelsTable": resources.models_table, "FeedbackTable": resources.feedback_table}
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
            "training.gate.min_per_class": 5,
            "model_refresh_s": 0.0,
        }
    )


@pytest.fixture
def trigger_app(
    aws_stack: LocalAwsStack, retrain_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ModuleType]:
    """``functions/retrain_trigger/app.py`` imported the way Lambda does, with the stack's environment."""
    env = aws_stack.environment(retrain_settings)
    names = ["aws.models_table", "aws.feedback_table", "aws.gate_prefix", "training.image_uri"]
    names += ["training.role_arn", "training.instance_type", "training.max_run_s"]
    env.update(as_environment(retrain_settings, [*names, "training.gate.min_per_class"]))
    env["DEEPFAKE_TRAINING_HYPERPARAMETERS"] = json.dumps(retrain_settings.training.hyperparameters)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    sys.modules.pop("functions.retrain_trigger.app", None)
    module: ModuleType = importlib.import_module("functions.retrain_trigger.app")
    get_settings.cache_clear()
    yield module
    sys.modules.pop("functions.retrain_trigger.app", None)


@pytest.fixture
def trigger_handler(trigger_app: ModuleType) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = trigger_app.lambda_handler(event, LocalLambdaContext("retrain-local", 900.0))
        return result

    return invoke


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


def schedule_event(scheduled_time: str | None = None) -> dict[str, Any]:
    """The schedule's Input in template.yaml, as the scheduler fills it in (or a manual launch)."""
    return {"action": "launch", **({"scheduled_time": scheduled_time} if scheduled_time else {})}


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
    current = registry.repair()
    registry.set_current(pointer, expected=current.version if current else None)


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


# ---------------------------------------------------------------- issue 9: gate, crash safety, seeding
def promote_through_the_trigger(
    aws_stack: LocalAwsStack,
    settings: Settings,
    invoke: Callable[[dict[str, Any]], dict[str, Any]],
    model: Path,
    scheduled_time: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Launch, play SageMaker, deliver the completion event; returns (launch, completion) outcomes."""
    started = invoke(schedule_event(scheduled_time))
    assert started["outcome"] == "started", started
    artifact = finish_job(aws_stack, settings, started["job_name"], model)
    return started, invoke(state_change(started["job_name"], "Completed", artifact))


def table_pointer(aws_stack: LocalAwsStack, settings: Settings) -> str | None:
    item = (
        aws_stack.client("dynamodb")
        .get_item(
            TableName=settings.aws.models_table, Key={"version": {"S": "#pointer"}}, ConsistentRead=True
        )
        .get("Item")
    )
    return item["current"]["S"] if item else None


def test_a_crash_between_the_promoting_record_and_the_pointer_is_reconciled_on_the_next_event(
    aws_stack: LocalAwsStack,
    retrain_settings: Settings,
    registry: AwsModelRegistry,
    trigger_app: ModuleType,
    trigger_handler: Callable[[dict[str, Any]], dict[str, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    serve_version(registry, build_tiny_classifier(tmp_path / "poor", seed=1), "poor-1")

    def die(pointer: ModelPointer, *, expected: str | None) -> None:
        raise RuntimeError("Task timed out after 900.00 seconds")  # the Lambda dies here

    monkeypatch.setattr(trigger_app.lambda_handler.trigger.registry, "set_current", die)
    model = build_cast_classifier(tmp_path / "job", version="x")
    with pytest.raises(RuntimeError, match="timed out"):
        promote_through_the_trigger(aws_stack, retrain_settings, trigger_handler, model)
    [half] = [r for r in registry.records() if r.status is ModelStatus.PROMOTING]
    assert half.replaces == "poor-1" and half.decision is not None and half.decision.promote
    assert registry.current().version == "poor-1"  # type: ignore[union-attr]
    monkeypatch.undo()

    # The next event of any kind (here the next week's schedule) finishes the promotion first.
    outcome = trigger_handler(schedule_event("2026-12-04T03:00:00Z"))
    assert outcome["outcome"] == "started"
    assert registry.get_record(half.version).status is ModelStatus.PROMOTED  # type: ignore[union-attr]
    assert registry.current().version == half.version == table_pointer(aws_stack, retrain_settings)  # type: ignore[union-attr]


def test_a_crash_between_the_table_and_the_parameter_is_repaired_on_the_next_event(
    aws_stack: LocalAwsStack,
    retrain_settings: Settings,
    registry: AwsModelRegistry,
    trigger_app: ModuleType,
    trigger_handler: Callable[[dict[str, Any]], dict[str, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    serve_version(registry, build_tiny_classifier(tmp_path / "poor", seed=1), "poor-1")
    ssm = trigger_app.lambda_handler.trigger.registry.ssm

    def die(**kwargs: Any) -> None:
        raise RuntimeError("the Lambda died before the SSM write")

    monkeypatch.setattr(ssm, "put_parameter", die)
    with pytest.raises(RuntimeError, match="SSM write"):
        promote_through_the_trigger(
            aws_stack, retrain_settings, trigger_handler, build_cast_classifier(tmp_path / "job", version="x")
        )
    [half] = [r for r in registry.records() if r.status is ModelStatus.PROMOTING]
    assert table_pointer(aws_stack, retrain_settings) == half.version  # the authoritative pointer moved
    assert registry.current().version == "poor-1"  # type: ignore[union-attr]  # its served copy did not
    monkeypatch.undo()
    outcome = trigger_handler({"action": "reconcile"})
    assert outcome == {
        "outcome": "reconciled",
        "settled": {half.version: "promoted"},
        "version": half.version,
    }
    assert registry.current().version == half.version  # type: ignore[union-attr]


def test_the_conditional_pointer_update_refuses_a_pointer_changed_underneath(
    aws_stack: LocalAwsStack, retrain_settings: Settings, registry: AwsModelRegistry, tmp_path: Path
) -> None:
    serve_version(registry, build_cast_classifier(tmp_path / "a", version="x"), "a-1")
    other = AwsModelRegistry(
        aws_stack.client("s3"),
        aws_stack.client("dynamodb"),
        aws_stack.client("ssm"),
        bucket=registry.bucket,
        table=registry.table,
        parameter=registry.parameter,
    )
    b = build_tiny_classifier(tmp_path / "b", seed=2)
    c = build_tiny_classifier(tmp_path / "c", seed=3)
    pointer_b = registry.publish("b-1", b, b.with_suffix(".json"))
    pointer_c = registry.publish("c-1", c, c.with_suffix(".json"))
    seen = registry.current()  # writer 1 reads a-1 ...
    assert seen is not None and seen.version == "a-1"
    other.set_current(pointer_b, expected="a-1")  # ... writer 2 moves it first ...
    with pytest.raises(PointerConflictError) as raised:
        registry.set_current(pointer_c, expected=seen.version)  # ... so writer 1 changes nothing
    assert (raised.value.expected, raised.value.actual) == ("a-1", "b-1")
    assert registry.current() == pointer_b and table_pointer(aws_stack, retrain_settings) == "b-1"
    with pytest.raises(PointerConflictError):
        registry.set_current(pointer_c, expected=None)  # a second seeder cannot overwrite either
    # SSM keeps every value: the parameter's history is the audit trail of the moves that happened.
    history = aws_stack.client("ssm").get_parameter_history(Name=registry.parameter)["Parameters"]
    assert [json.loads(h["Value"])["version"] for h in history][-2:] == ["a-1", "b-1"]


def test_a_retried_schedule_event_starts_exactly_one_job(
    aws_stack: LocalAwsStack,
    retrain_settings: Settings,
    registry: AwsModelRegistry,
    trigger_app: ModuleType,
    trigger_handler: Callable[[dict[str, Any]], dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sagemaker = trigger_app.lambda_handler.trigger.sagemaker
    create = sagemaker.create_training_job
    calls: list[str] = []

    def die_once(**arguments: Any) -> Any:
        calls.append(arguments["TrainingJobName"])
        if len(calls) == 1:  # the first attempt dies after writing its record, before the job
            raise RuntimeError("Task timed out")
        return create(**arguments)

    monkeypatch.setattr(sagemaker, "create_training_job", die_once)
    event = schedule_event("2026-11-27T03:00:00Z")
    with pytest.raises(RuntimeError):
        trigger_handler(event)
    record = registry.get_record("2026.11.27-030000")
    assert record is not None and record.status is ModelStatus.TRAINING
    first = trigger_handler(event)  # the scheduler's retry of the same run
    second = trigger_handler(event)  # and one more, after the job started
    assert (first["outcome"], second["outcome"]) == ("started", "skipped")
    assert (
        first["job_name"] == second["job_name"] == f"{retrain_settings.training.job_prefix}-2026-11-27-030000"
    )
    jobs = aws_stack.client("sagemaker").list_training_jobs(NameContains="2026-11-27-030000")
    assert [j["TrainingJobName"] for j in jobs["TrainingJobSummaries"]] == [first["job_name"]]
    # One CreateTrainingJob reached SageMaker (the first attempt died before it); the third
    # delivery found the job and never asked for another.
    assert calls == [first["job_name"]] * 2


def test_rollback_takes_the_same_conditional_path(
    aws_stack: LocalAwsStack,
    retrain_settings: Settings,
    registry: AwsModelRegistry,
    trigger_handler: Callable[[dict[str, Any]], dict[str, Any]],
    tmp_path: Path,
) -> None:
    serve_version(registry, build_tiny_classifier(tmp_path / "poor", seed=1), "poor-1")
    started, done = promote_through_the_trigger(
        aws_stack, retrain_settings, trigger_handler, build_cast_classifier(tmp_path / "job", version="x")
    )
    assert done["outcome"] == "promoted"
    promoted = started["version"]
    other = build_tiny_classifier(tmp_path / "other", seed=4)
    pointer_other = registry.publish("other-1", other, other.with_suffix(".json"))
    seen: list[str | None] = []

    class Racing(AwsModelRegistry):
        def set_current(self, pointer: ModelPointer, *, expected: str | None) -> None:
            seen.append(expected)
            registry.set_current(pointer_other, expected=promoted)  # a promotion lands meanwhile
            super().set_current(pointer, expected=expected)

    racing = Racing(
        registry.s3,
        registry.dynamodb,
        registry.ssm,
        bucket=registry.bucket,
        table=registry.table,
        parameter=registry.parameter,
    )
    with pytest.raises(PointerConflictError, match=re.escape(f"names other-1, not {promoted}")):
        rollback(racing)
    assert seen == [promoted]  # the rollback named the version it replaces
    assert registry.current().version == "other-1"  # type: ignore[union-attr]  # not silently undone
    assert registry.get_record(promoted).status is ModelStatus.PROMOTED  # type: ignore[union-attr]


class CloudFormationResponses:
    """A local stand-in for CloudFormation's presigned response URL: records each PUT."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        responses = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                responses.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def event(self, request: str, **extra: Any) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(
            (PROJECT_ROOT / "functions/retrain_trigger/events/seed_create.json").read_text()
        )
        return {
            **event,
            **extra,
            "RequestType": request,
            "ResponseURL": f"http://127.0.0.1:{self.server.server_port}/r",
        }

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_pointer_is_seeded_once_and_a_redeploy_never_moves_it(
    aws_stack: LocalAwsStack,
    retrain_settings: Settings,
    registry: AwsModelRegistry,
    trigger_handler: Callable[[dict[str, Any]], dict[str, Any]],
    tmp_path: Path,
) -> None:
    aws_stack.client("ssm").delete_parameter(Name=registry.parameter)  # a new stack: no pointer yet
    assert registry.current() is None
    shipped = retrain_settings.classifier_path
    version = ModelCard.load(shipped.with_suffix(".json")).version
    cfn = CloudFormationResponses()
    try:
        assert trigger_handler(cfn.event("Create"))["outcome"] == "seeded"
        [answer] = cfn.bodies
        assert answer["Status"] == "SUCCESS" and answer["Data"] == {"Version": version}
        seeded = registry.current()
        assert seeded is not None and (seeded.version, seeded.sha256) == (version, file_sha256(shipped))
        # A cold start of the detect function finds the model it already has: nothing downloaded.
        cache = tmp_path / "live-cache"
        live = LivePipeline(retrain_settings.pipeline(), registry, cache)
        assert live.version == version and not cache.exists()

        serve_version(registry, build_cast_classifier(tmp_path / "later", version="x"), "later-1")
        # A redeploy (an Update of the custom resource, or a new image) leaves the pointer alone.
        outcome = trigger_handler(cfn.event("Update", PhysicalResourceId=answer["PhysicalResourceId"]))
        assert outcome["outcome"] == "ignored" and cfn.bodies[-1]["Status"] == "SUCCESS"
        assert registry.current().version == "later-1"  # type: ignore[union-attr]
        # Deleting the stack deletes nothing of the registry.
        trigger_handler(cfn.event("Delete", PhysicalResourceId=answer["PhysicalResourceId"]))
        assert cfn.bodies[-1]["Status"] == "SUCCESS" and registry.current().version == "later-1"  # type: ignore[union-attr]
    finally:
        cfn.close()


def test_the_gate_report_lies_beside_the_candidate_and_status_shows_it(
    aws_stack: LocalAwsStack,
    retrain_settings: Settings,
    registry: AwsModelRegistry,
    trigger_handler: Callable[[dict[str, Any]], dict[str, Any]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    serve_version(registry, build_tiny_classifier(tmp_path / "poor", seed=1), "poor-1")
    started, done = promote_through_the_trigger(
        aws_stack, retrain_settings, trigger_handler, build_cast_classifier(tmp_path / "job", version="x")
    )
    assert done["outcome"] == "promoted"
    key = f"training-jobs/{started['job_name']}/output/gate-report.json"
    s3 = aws_stack.client("s3")
    report = json.loads(s3.get_object(Bucket=retrain_settings.aws.models_bucket, Key=key)["Body"].read())
    assert report["decision"]["promote"] is True and report["gate_set"]["real_used"] == 5
    assert {f["file"] for f in report["files"]} >= {"real/img1.jpg", "fake/img6.jpg"}
    assert all(f.keys() == {"file", "label", "live", "candidate"} for f in report["files"])
    record = registry.get_record(started["version"])
    assert record is not None and record.report == f"s3://{retrain_settings.aws.models_bucket}/{key}"

    from deepfake_detect.cli import main

    get_settings.cache_clear()  # the trigger fixture exported the stack's DEEPFAKE_* environment
    capsys.readouterr()
    assert main(["retrain", "status", "--aws"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"current model: {started['version']}\nmodel {started['version']}: promoted")
    assert f"gate report for candidate {started['version']}: PROMOTE" in out and "vs live poor-1:" in out


def test_the_default_minimum_rejects_a_small_gate_set(
    aws_stack: LocalAwsStack,
    retrain_settings: Settings,
    registry: AwsModelRegistry,
    trigger_app: ModuleType,
    trigger_handler: Callable[[dict[str, Any]], dict[str, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from deepfake_detect.registry.policy import GatePolicy

    default = GatePolicy.model_fields["min_per_class"].default
    monkeypatch.setattr(
        trigger_app.lambda_handler.trigger,
        "policy",
        trigger_app.lambda_handler.trigger.policy.model_copy(update={"min_per_class": default}),
    )
    before = registry.current()
    _, done = promote_through_the_trigger(
        aws_stack, retrain_settings, trigger_handler, build_cast_classifier(tmp_path / "job", version="x")
    )
    assert done["outcome"] == "rejected"
    assert done["reasons"] == [
        "the gate set has 5 scored real and 5 scored fake files (0 without a face or unreadable); "
        f"the gate needs at least {default} of each to compare models"
    ]
    assert registry.current() == before
