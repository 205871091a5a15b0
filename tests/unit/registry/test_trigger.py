"""The retrain trigger's decisions, with in-memory SageMaker and S3 stand-ins (no sockets)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from deepfake_detect.aws.handlers.retrain_trigger import (
    OUTCOME_METRICS,
    RetrainTrigger,
    UnknownEventError,
    handle_custom_resource,
    handle_event,
)
from deepfake_detect.core.hashing import file_sha256
from deepfake_detect.local.registry import LocalModelRegistry
from deepfake_detect.registry.base import ModelStatus
from deepfake_detect.registry.feedback import ExportSummary
from deepfake_detect.registry.promote import adopt_baseline
from deepfake_detect.settings import PROJECT_ROOT, Settings
from tests.support.clock import ManualClock
from tests.support.gate_scores import StubEvaluator, scores
from tests.support.retrain import build_cast_classifier, model_tarball


class FakeSageMaker:
    """Like SageMaker: a job name is unique, an unknown job is a ValidationException."""

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.creates = 0

    def create_training_job(self, **arguments: Any) -> dict[str, Any]:
        self.creates += 1
        name = arguments["TrainingJobName"]
        if name in self.jobs:
            raise ClientError(
                {"Error": {"Code": "ResourceInUse", "Message": "Training job names must be unique"}},
                "CreateTrainingJob",
            )
        self.jobs[name] = {**arguments, "TrainingJobStatus": "InProgress"}
        return {"TrainingJobArn": f"arn:aws:sagemaker:::training-job/{name}"}

    def list_training_jobs(self, StatusEquals: str, NameContains: str) -> dict[str, Any]:  # noqa: N803
        names = [
            name
            for name, job in self.jobs.items()
            if job["TrainingJobStatus"] == StatusEquals and NameContains in name
        ]
        return {"TrainingJobSummaries": [{"TrainingJobName": name} for name in names]}

    def describe_training_job(self, TrainingJobName: str) -> dict[str, Any]:  # noqa: N803
        if TrainingJobName not in self.jobs:
            raise ClientError(
                {"Error": {"Code": "ValidationException", "Message": "Requested resource not found."}},
                "DescribeTrainingJob",
            )
        return self.jobs[TrainingJobName]


class FakeS3:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}

    def download_file(self, bucket: str, key: str, filename: str) -> None:
        if (bucket, key) not in self.objects:
            raise ClientError({"Error": {"Code": "404", "Message": "Not Found"}}, "HeadObject")
        Path(filename).write_bytes(self.objects[(bucket, key)])


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    return base_settings.updated(
        {
            "aws.models_bucket": "models",
            "training.image_uri": "123.dkr.ecr.us-east-1.amazonaws.com/train:1",
            "training.role_arn": "arn:aws:iam::123:role/train",
            "training.instance_type": "ml.g5.xlarge",
            "training.max_run_s": 7200,
            "training.max_wait_s": 10800,
            "training.hyperparameters": {"epochs": "6"},
        }
    )


@pytest.fixture
def parts(
    settings: Settings, registry: LocalModelRegistry, evaluator: StubEvaluator, tmp_path: Path
) -> tuple[RetrainTrigger, FakeSageMaker, FakeS3, ManualClock[datetime]]:
    sagemaker, s3, clock = FakeSageMaker(), FakeS3(), ManualClock(datetime(2026, 11, 27, 3, 0, tzinfo=UTC))
    shipped = build_cast_classifier(tmp_path / "shipped", version="1")
    evaluator.set(shipped, scores(caught=40))
    adopt_baseline(registry, shipped)

    def export() -> ExportSummary:
        return ExportSummary(labelled=3, copied=1, missing=[])

    trigger = RetrainTrigger(
        settings,
        sagemaker,  # type: ignore[arg-type]
        s3,  # type: ignore[arg-type]
        registry,
        lambda: evaluator,  # type: ignore[arg-type]
        export,
        clock=clock,
    )
    return trigger, sagemaker, s3, clock


def state_change(
    job: str, status: str, artifact: str | None = None, reason: str | None = None
) -> dict[str, Any]:
    detail: dict[str, Any] = {"TrainingJobName": job, "TrainingJobStatus": status}
    if artifact:
        detail["ModelArtifacts"] = {"S3ModelArtifacts": artifact}
    if reason:
        detail["FailureReason"] = reason
    return {"source": "aws.sagemaker", "detail-type": "SageMaker Training Job State Change", "detail": detail}


EVENTS = PROJECT_ROOT / "functions" / "retrain_trigger" / "events"  # sample events, as AWS sends them
SCHEDULE = json.loads((EVENTS / "schedule.json").read_text())


def sample_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


def test_schedule_starts_one_job_with_the_settings(
    parts: tuple[RetrainTrigger, FakeSageMaker, FakeS3, ManualClock[datetime]], registry: LocalModelRegistry
) -> None:
    trigger, sagemaker, _, _ = parts
    outcome = handle_event(trigger, SCHEDULE)
    assert outcome == {
        "outcome": "started",
        "job_name": "deepfake-retrain-2026-11-27-030000",
        "version": "2026.11.27-030000",
    }
    job = sagemaker.jobs["deepfake-retrain-2026-11-27-030000"]
    assert job["AlgorithmSpecification"]["TrainingImage"] == "123.dkr.ecr.us-east-1.amazonaws.com/train:1"
    assert job["RoleArn"] == "arn:aws:iam::123:role/train"
    assert job["ResourceConfig"]["InstanceType"] == "ml.g5.xlarge"
    assert job["EnableManagedSpotTraining"] is True
    assert job["StoppingCondition"] == {"MaxRuntimeInSeconds": 7200, "MaxWaitTimeInSeconds": 10800}
    assert job["HyperParameters"] == {"epochs": "6", "version": "2026.11.27-030000"}
    assert job["Environment"]["SM_MODEL_DIR"] == "/opt/ml/model"
    assert job["Environment"]["SM_CHANNEL_FEEDBACK"] == "/opt/ml/input/data/feedback"
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in job["InputDataConfig"]}
    assert channels == {
        "shared": "s3://models/training-data/shared/",
        "feedback": "s3://models/training-data/feedback/",
    }
    assert job["OutputDataConfig"]["S3OutputPath"] == "s3://models/training-jobs/"
    record = registry.get_record("2026.11.27-030000")
    assert record is not None and record.status is ModelStatus.TRAINING
    assert record.data["feedback"] == {"labelled": 3, "copied": 1, "missing": 0}
    assert record.data["channels"] == channels
    # A second event while it runs starts nothing.
    assert handle_event(trigger, SCHEDULE)["outcome"] == "skipped"
    assert len(sagemaker.jobs) == 1


def test_finished_job_awaiting_its_gate_blocks_a_new_one(
    parts: tuple[RetrainTrigger, FakeSageMaker, FakeS3, ManualClock[datetime]],
) -> None:
    trigger, sagemaker, _, clock = parts
    job = trigger.on_schedule()["job_name"]
    sagemaker.jobs[job]["TrainingJobStatus"] = "Completed"  # its event is not processed yet
    clock.now += timedelta(hours=1)
    assert trigger.on_schedule() == {"outcome": "skipped", "running_job": job}
    # Far past any run time, the lost event is settled from SageMaker and training resumes.
    clock.now += timedelta(hours=12)
    assert trigger.on_schedule()["outcome"] == "started"
    assert len(sagemaker.jobs) == 2


def test_completed_better_job_is_promoted(
    parts: tuple[RetrainTrigger, FakeSageMaker, FakeS3, ManualClock[datetime]],
    registry: LocalModelRegistry,
    evaluator: StubEvaluator,
    tmp_path: Path,
) -> None:
    trigger, _, s3, _ = parts
    started = trigger.on_schedule()
    model = build_cast_classifier(tmp_path / "out", version="whatever")
    evaluator.set(model, scores(caught=48))
    event = sample_event("training_job_completed.json")
    assert event["detail"]["TrainingJobName"] == started["job_name"]  # the sample's job is this clock's
    s3.objects[("models", f"training-jobs/{started['job_name']}/output/model.tar.gz")] = model_tarball(model)
    outcome = handle_event(trigger, event)
    assert outcome["outcome"] == "promoted" and outcome["version"] == started["version"]
    assert registry.current().version == started["version"]  # type: ignore[union-attr]
    # EventBridge may deliver the same event again: nothing happens twice.
    again = handle_event(trigger, state_change(started["job_name"], "Completed", "s3://models/x"))
    assert again["outcome"] == "ignored"


def test_completed_worse_job_is_rejected(
    parts: tuple[RetrainTrigger, FakeSageMaker, FakeS3, ManualClock[datetime]],
    registry: LocalModelRegistry,
    evaluator: StubEvaluator,
    tmp_path: Path,
) -> None:
    trigger, _, s3, _ = parts
    started = trigger.on_schedule()
    model = build_cast_classifier(tmp_path / "out", version="x", sign=-1)
    evaluator.set(model, scores(caught=30))
    s3.objects[("models", "a/model.tar.gz")] = model_tarball(model)
    outcome = trigger.on_state_change(
        state_change(started["job_name"], "Completed", "s3://models/a/model.tar.gz")["detail"]
    )
    assert outcome["outcome"] == "rejected" and outcome["reasons"][0].startswith("TPR at the card threshold")
    assert registry.current().version == "1"  # type: ignore[union-attr]
    record = registry.get_record(started["version"])
    assert record is not None and record.status is ModelStatus.REJECTED
    assert record.decision is not None and record.decision.current is not None
    assert record.decision.current.tpr == 0.8 and record.decision.candidate.tpr == 0.6  # type: ignore[union-attr]


def test_missing_or_corrupt_artifact_is_rejected(
    parts: tuple[RetrainTrigger, FakeSageMaker, FakeS3, ManualClock[datetime]], registry: LocalModelRegistry
) -> None:
    trigger, _, s3, _ = parts
    started = trigger.on_schedule()
    s3.objects[("models", "bad/model.tar.gz")] = b"\x1f\x8b not really gzip"
    outcome = trigger.on_state_change(
        state_change(started["job_name"], "Completed", "s3://models/bad/model.tar.gz")["detail"]
    )
    assert outcome["outcome"] == "rejected" and "tar" in outcome["reasons"][0]
    assert registry.current().version == "1"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("status", "outcome", "recorded"),
    [("Failed", "failed", ModelStatus.FAILED), ("Stopped", "stopped", ModelStatus.STOPPED)],
)
def test_failed_or_stopped_job_is_recorded_never_promoted(
    parts: tuple[RetrainTrigger, FakeSageMaker, FakeS3, ManualClock[datetime]],
    registry: LocalModelRegistry,
    status: str,
    outcome: str,
    recorded: ModelStatus,
) -> None:
    trigger, sagemaker, _, clock = parts
    started = trigger.on_schedule()
    sagemaker.jobs[started["job_name"]]["TrainingJobStatus"] = status
    event = sample_event("training_job_failed.json")
    event["detail"]["TrainingJobStatus"] = status
    result = handle_event(trigger, event)
    assert result["outcome"] == outcome
    record = registry.get_record(started["version"])
    assert record is not None and record.status is recorded and record.finished_at is not None
    assert record.failure_reason == "AlgorithmError: CUDA out of memory"
    assert registry.current().version == "1"  # type: ignore[union-attr]
    clock.now += timedelta(days=7)
    assert trigger.on_schedule()["outcome"] == "started"  # a failed job does not block the next


def test_events_for_other_jobs_and_other_states_are_ignored(
    parts: tuple[RetrainTrigger, FakeSageMaker, FakeS3, ManualClock[datetime]],
) -> None:
    trigger, _, _, _ = parts
    assert (
        trigger.on_state_change({"TrainingJobName": "someone-else", "TrainingJobStatus": "Failed"})["outcome"]
        == "ignored"
    )
    job = trigger.on_schedule()["job_name"]
    assert (
        trigger.on_state_change({"TrainingJobName": job, "TrainingJobStatus": "InProgress"})["outcome"]
        == "ignored"
    )


def test_a_retried_schedule_event_starts_exactly_one_job(
    parts: tuple[RetrainTrigger, FakeSageMaker, FakeS3, ManualClock[datetime]], registry: LocalModelRegistry
) -> None:
    trigger, sagemaker, _, clock = parts
    first = handle_event(trigger, SCHEDULE)
    clock.now += timedelta(minutes=3)  # the scheduler's retry, minutes later, of the same run
    again = handle_event(trigger, SCHEDULE)
    assert again["outcome"] == "skipped" and again["job_name"] == first["job_name"]
    assert list(sagemaker.jobs) == [first["job_name"]] and sagemaker.creates == 1


def test_a_launch_that_died_after_its_record_is_finished_by_the_retry(
    parts: tuple[RetrainTrigger, FakeSageMaker, FakeS3, ManualClock[datetime]],
    registry: LocalModelRegistry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trigger, sagemaker, _, _ = parts
    create = sagemaker.create_training_job

    def die(**arguments: Any) -> dict[str, Any]:
        raise SystemExit("the function timed out")

    monkeypatch.setattr(sagemaker, "create_training_job", die)
    with pytest.raises(SystemExit):
        handle_event(trigger, SCHEDULE)
    record = registry.get_record("2026.11.27-030000")
    assert record is not None and record.status is ModelStatus.TRAINING and not sagemaker.jobs
    monkeypatch.setattr(sagemaker, "create_training_job", create)
    assert handle_event(trigger, SCHEDULE)["outcome"] == "started"
    assert handle_event(trigger, SCHEDULE)["outcome"] == "skipped"
    assert list(sagemaker.jobs) == ["deepfake-retrain-2026-11-27-030000"]


def test_a_launch_sagemaker_refuses_is_recorded_and_raised(
    parts: tuple[RetrainTrigger, FakeSageMaker, FakeS3, ManualClock[datetime]],
    registry: LocalModelRegistry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trigger, sagemaker, _, _ = parts

    def refuse(**arguments: Any) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "CreateTrainingJob")

    monkeypatch.setattr(sagemaker, "create_training_job", refuse)
    with pytest.raises(ClientError):  # the invocation fails: retried, then the on-failure queue
        handle_event(trigger, SCHEDULE)
    record = registry.get_record("2026.11.27-030000")
    assert record is not None and record.status is ModelStatus.FAILED
    assert record.failure_reason.startswith("CreateTrainingJob failed")


def test_the_job_is_named_from_the_schedules_time_not_the_clock(
    parts: tuple[RetrainTrigger, FakeSageMaker, FakeS3, ManualClock[datetime]],
) -> None:
    trigger, _, _, clock = parts
    clock.now += timedelta(minutes=41)  # delivered late
    assert handle_event(trigger, SCHEDULE)["job_name"] == "deepfake-retrain-2026-11-27-030000"
    clock.now += timedelta(hours=1)
    manual = handle_event(trigger, {"action": "launch"})  # no time: a manual launch, named from now
    assert manual["outcome"] == "skipped"  # the scheduled job still runs
    clock.now += timedelta(days=2)  # far past its run time, but SageMaker says it still runs
    assert handle_event(trigger, {"action": "launch"})["outcome"] == "skipped"
    with pytest.raises(UnknownEventError, match="ISO 8601"):
        handle_event(trigger, {"action": "launch", "scheduled_time": "<aws.scheduler.scheduled-time>"})


def test_every_event_seeds_a_missing_pointer_and_finishes_half_done_promotions(
    settings: Settings, evaluator: StubEvaluator, tmp_path: Path
) -> None:
    registry = LocalModelRegistry(tmp_path / "fresh")
    shipped = build_cast_classifier(tmp_path / "image", version="7.1")
    trigger = RetrainTrigger(
        settings,
        FakeSageMaker(),  # type: ignore[arg-type]
        FakeS3(),  # type: ignore[arg-type]
        registry,
        lambda: evaluator,  # type: ignore[arg-type]
        shipped_model=shipped,
    )
    outcome = handle_event(trigger, {"action": "reconcile"})
    assert outcome == {"outcome": "reconciled", "settled": {}, "version": "7.1"}
    current = registry.current()
    assert current is not None and current.version == "7.1" and current.sha256 == file_sha256(shipped)
    assert registry.get_record("7.1").status is ModelStatus.BASELINE  # type: ignore[union-attr]
    registry.close()


def test_the_seed_custom_resource_always_answers_cloudformation(
    parts: tuple[RetrainTrigger, FakeSageMaker, FakeS3, ManualClock[datetime]],
    registry: LocalModelRegistry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trigger, _, _, _ = parts
    event = sample_event("seed_create.json")
    answers: list[tuple[str, dict[str, Any]]] = []
    outcome = handle_custom_resource(trigger, event, respond=lambda url, body: answers.append((url, body)))
    [(url, body)] = answers
    assert url == event["ResponseURL"] and body["Status"] == "SUCCESS"
    assert body["Data"] == {"Version": "1"}  # the pointer existed: left as it was
    assert (body["RequestId"], body["LogicalResourceId"]) == (event["RequestId"], "SeedModelPointer")
    assert outcome["outcome"] in OUTCOME_METRICS

    def broken() -> None:
        raise RuntimeError("SSM is down")

    monkeypatch.setattr(trigger, "seed", broken)
    outcome = handle_custom_resource(trigger, event, respond=lambda url, body: answers.append((url, body)))
    assert outcome["outcome"] == "seed_failed" and answers[-1][1]["Status"] == "FAILED"
    assert "SSM is down" in answers[-1][1]["Reason"]
    delete = {**event, "RequestType": "Delete", "PhysicalResourceId": answers[0][1]["PhysicalResourceId"]}
    assert (
        handle_custom_resource(trigger, delete, respond=lambda url, body: answers.append((url, body)))[
            "outcome"
        ]
        == "ignored"
    )
    assert answers[-1][1]["Status"] == "SUCCESS" and registry.current().version == "1"  # type: ignore[union-attr]


def test_the_seed_response_is_a_put_with_an_empty_content_type() -> None:
    """CloudFormation's presigned URL is signed for a PUT without a content type."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from deepfake_detect.aws.handlers.retrain_trigger import send_cfn_response

    seen: dict[str, Any] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            seen["content_type"] = self.headers.get("Content-Type")
            seen["body"] = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.handle_request)
    thread.start()
    send_cfn_response(f"http://127.0.0.1:{server.server_port}/response", {"Status": "SUCCESS"})
    thread.join(5)
    server.server_close()
    assert seen == {"content_type": "", "body": {"Status": "SUCCESS"}}


def test_unknown_event_fails_loudly(
    parts: tuple[RetrainTrigger, FakeSageMaker, FakeS3, ManualClock[datetime]],
) -> None:
    with pytest.raises(UnknownEventError):
        handle_event(parts[0], {"Records": []})
