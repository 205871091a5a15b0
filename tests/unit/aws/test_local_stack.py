"""The local AWS stack equals the template: ``provision`` creates every ``AWS::DynamoDB::Table``
and every ``AWS::SQS::Queue`` template.yaml declares, with their keys, indexes and redrive
policies, and hands the settings the tables the functions are given (issue 24, item 6). Run over
recording clients: no servers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deepfake_detect.settings import Settings
from infra.local.stack import LocalAwsStack, StackResources, load_template


class RecordingClient:
    """The DynamoDB and SQS calls ``provision`` makes, answered like the services would."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, Any]] = {}
        self.ttl: dict[str, dict[str, Any]] = {}
        self.queues: dict[str, dict[str, str]] = {}

    def create_table(self, **args: Any) -> None:
        assert args["TableName"] not in self.tables, f"{args['TableName']} created twice"
        self.tables[args["TableName"]] = args

    def get_waiter(self, name: str) -> Any:
        class Waiter:
            def wait(self, **_: Any) -> None:
                pass

        return Waiter()

    def update_time_to_live(self, TableName: str, TimeToLiveSpecification: dict[str, Any]) -> None:  # noqa: N803
        self.ttl[TableName] = TimeToLiveSpecification

    def create_queue(self, QueueName: str, Attributes: dict[str, str]) -> dict[str, str]:  # noqa: N803
        assert QueueName not in self.queues, f"{QueueName} created twice"
        if "RedrivePolicy" in Attributes:  # SQS wants the target to exist first
            target = json.loads(Attributes["RedrivePolicy"])["deadLetterTargetArn"]
            assert target.rsplit(":", 1)[1] in self.queues, f"{QueueName}: its dead-letter queue is missing"
        self.queues[QueueName] = Attributes
        return {"QueueUrl": f"http://sqs.local/000000000000/{QueueName}"}

    def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str]) -> dict[str, Any]:  # noqa: N803
        name = QueueUrl.rsplit("/", 1)[1]
        return {"Attributes": {"QueueArn": f"arn:aws:sqs:us-east-1:000000000000:{name}"}}


class RecordingStack(LocalAwsStack):
    def __init__(self, work_dir: Path) -> None:
        super().__init__(work_dir)
        self.recorder = RecordingClient()

    def client(self, service: str) -> Any:
        assert service in ("dynamodb", "sqs")
        return self.recorder


@pytest.fixture(scope="module")
def declared() -> dict[str, Any]:
    resources: dict[str, Any] = load_template()["Resources"]
    return resources


def of_type(declared: dict[str, Any], kind: str) -> set[str]:
    return {logical for logical, resource in declared.items() if resource["Type"] == kind}


def test_every_table_of_the_template_is_created_as_declared(declared: dict[str, Any], tmp_path: Path) -> None:
    stack = RecordingStack(tmp_path)
    resources = StackResources.named("u1")
    stack._create_tables(declared, resources)
    names = resources.tables(declared)
    assert set(names) == of_type(declared, "AWS::DynamoDB::Table")
    assert {"ResultsTable", "IdempotencyTable", "ModelsTable", "FeedbackTable"} <= set(names)
    assert set(stack.recorder.tables) == set(names.values())
    for logical, name in names.items():
        props, created = declared[logical]["Properties"], stack.recorder.tables[name]
        assert created["KeySchema"] == props["KeySchema"]
        assert created["AttributeDefinitions"] == props["AttributeDefinitions"]
        assert created.get("GlobalSecondaryIndexes") == props.get("GlobalSecondaryIndexes")
        if "TimeToLiveSpecification" in props:
            assert stack.recorder.ttl[name] == props["TimeToLiveSpecification"]


def test_every_queue_of_the_template_is_created_with_its_redrive(
    declared: dict[str, Any], tmp_path: Path
) -> None:
    stack = RecordingStack(tmp_path)
    resources = StackResources.named("u2")
    stack._create_queues(declared, resources, visibility_timeout_s=3, max_receive_count=2)
    names = resources.queues(declared)
    assert set(names) == of_type(declared, "AWS::SQS::Queue")
    assert set(resources.queue_urls) == set(names)
    assert set(stack.recorder.queues) == set(names.values())
    detect = stack.recorder.queues[resources.queue_name]
    assert detect["VisibilityTimeout"] == "3"
    redrive = json.loads(detect["RedrivePolicy"])
    assert redrive["maxReceiveCount"] == 2 == resources.max_receive_count
    assert redrive["deadLetterTargetArn"].endswith(":" + resources.dead_letter_queue_name)
    assert resources.dead_letter_queue_url.endswith("/" + resources.dead_letter_queue_name)
    assert resources.dead_letter_queue_arn.endswith(":" + resources.dead_letter_queue_name)
    for logical, name in names.items():  # retention as declared
        declared_retention = declared[logical]["Properties"].get("MessageRetentionPeriod")
        if declared_retention is not None:
            assert stack.recorder.queues[name]["MessageRetentionPeriod"] == str(declared_retention)


def test_a_table_or_queue_the_code_does_not_know_yet_is_created_too(tmp_path: Path) -> None:
    declared = {
        "AuditTable": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            },
        },
        "DetectQueue": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "DeadLetterQueue": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "AuditQueue": {"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": 60}},
    }
    stack = RecordingStack(tmp_path)
    resources = StackResources.named("u3")
    stack._create_tables(declared, resources)
    stack._create_queues(declared, resources, visibility_timeout_s=None, max_receive_count=None)
    assert "deepfake-audit-table-u3" in stack.recorder.tables
    assert "deepfake-audit-queue-u3" in stack.recorder.queues


def test_the_stack_settings_name_the_feedback_and_models_tables(tmp_path: Path) -> None:
    stack = RecordingStack(tmp_path)
    stack.moto = stack.dynamodb = type("Up", (), {"url": "http://127.0.0.1:1"})()  # type: ignore[assignment]
    resources = StackResources.named("u4")
    resources.queue_url = "http://127.0.0.1:1/000000000000/deepfake-detect-u4"
    settings = stack.settings(Settings(), resources)
    assert settings.aws.feedback_table == resources.feedback_table
    assert settings.aws.models_table == resources.models_table
    # A worker gets what the template gives the detect function: its queue, to defer files to.
    assert stack.environment(settings)["DEEPFAKE_AWS_DETECT_QUEUE_URL"] == resources.queue_url
