"""template.yaml's retraining resources agree with the code that uses them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from deepfake_detect.aws.handlers.retrain_trigger import FAILED, OUTCOME_METRICS, STATE_CHANGE, scheduled_time
from deepfake_detect.settings import PROJECT_ROOT, TrainingSettings
from infra.local.stack import load_template

POINTER_NAME = "/${AWS::StackName}/current-model"


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    resources: dict[str, Any] = load_template()["Resources"]
    return resources


def test_schedule_and_rule_send_the_events_the_trigger_handles(resources: dict[str, Any]) -> None:
    events = resources["RetrainTriggerFunction"]["Properties"]["Events"]
    sample = json.loads((PROJECT_ROOT / "functions/retrain_trigger/events/schedule.json").read_text())
    template_input = json.loads(events["Schedule"]["Properties"]["Input"])
    # The scheduler fills in the run's time, the same in every retry: the job is named from it.
    assert template_input == {**sample, "scheduled_time": "<aws.scheduler.scheduled-time>"}
    assert scheduled_time(sample) is not None
    pattern = events["TrainingJobStateChange"]["Properties"]["Pattern"]
    assert pattern["detail-type"] == [STATE_CHANGE] and pattern["source"] == ["aws.sagemaker"]
    assert set(pattern["detail"]["TrainingJobStatus"]) == {"Completed", "Failed", "Stopped"}
    # The rule only matches jobs named with the prefix the trigger gives them.
    [prefix] = pattern["detail"]["TrainingJobName"]
    env = resources["RetrainTriggerFunction"]["Properties"]["Environment"]["Variables"]
    assert prefix["prefix"] == {"Fn::Sub": "${AWS::StackName}-retrain-"}
    assert env["DEEPFAKE_TRAINING_JOB_PREFIX"] == {"Fn::Sub": "${AWS::StackName}-retrain"}


def test_failed_jobs_alarm_on_the_metric_the_trigger_emits(resources: dict[str, Any]) -> None:
    alarm = resources["TrainingFailedAlarm"]["Properties"]
    assert alarm["MetricName"] == OUTCOME_METRICS[FAILED]
    assert alarm["Namespace"] == "DeepfakeDetect"
    assert alarm["Dimensions"] == [{"Name": "service", "Value": {"Fn::Sub": "${AWS::StackName}-retrain"}}]


def test_one_invocation_at_a_time(resources: dict[str, Any]) -> None:
    assert resources["RetrainTriggerFunction"]["Properties"]["ReservedConcurrentExecutions"] == 1


def test_registry_tables_have_the_keys_the_stores_use(resources: dict[str, Any]) -> None:
    keys = {
        name: [k["AttributeName"] for k in resources[name]["Properties"]["KeySchema"]]
        for name in ("ModelsTable", "FeedbackTable")
    }
    assert keys == {"ModelsTable": ["version"], "FeedbackTable": ["result_id"]}


def test_training_role_is_only_passed_to_sagemaker(resources: dict[str, Any]) -> None:
    statements = resources["RetrainTriggerFunction"]["Properties"]["Policies"][0]["Statement"]
    [passrole] = [s for s in statements if "iam:PassRole" in s["Action"]]
    assert passrole["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


def test_the_model_pointer_is_not_a_stack_resource(resources: dict[str, Any]) -> None:
    """A redeploy must never move the pointer back: no AWS::SSM::Parameter holds a value for it."""
    assert not [name for name, r in resources.items() if r["Type"] == "AWS::SSM::Parameter"]
    template = load_template()
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["DEEPFAKE_AWS_MODEL_PARAMETER"] == {"Fn::Sub": POINTER_NAME}
    assert template["Outputs"]["ModelParameterName"]["Value"] == {"Fn::Sub": POINTER_NAME}
    arn = f"arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{POINTER_NAME}"
    for function in ("DetectFunction", "ApiFunction", "RetrainTriggerFunction"):
        statements = resources[function]["Properties"]["Policies"][0]["Statement"]
        [ssm] = [s for s in statements if any(a.startswith("ssm:") for a in s["Action"])]
        assert ssm["Resource"] == {"Fn::Sub": arn}, function
    assert "InitialModelVersion" not in template["Parameters"]


def test_the_pointer_is_seeded_once_by_the_trigger(resources: dict[str, Any]) -> None:
    seed = resources["SeedModelPointer"]
    assert seed["Type"].startswith("Custom::")
    assert seed["Properties"]["ServiceToken"] == {"Fn::GetAtt": ["RetrainTriggerFunction", "Arn"]}
    assert seed["Properties"]["Parameter"] == {"Fn::Sub": POINTER_NAME}
    sample = json.loads((PROJECT_ROOT / "functions/retrain_trigger/events/seed_create.json").read_text())
    assert sample["ResourceType"] == seed["Type"] and sample["LogicalResourceId"] == "SeedModelPointer"


def test_failed_retrain_events_land_in_an_alarmed_queue(resources: dict[str, Any]) -> None:
    props = resources["RetrainTriggerFunction"]["Properties"]
    queue = {"Fn::GetAtt": ["RetrainFailureQueue", "Arn"]}
    on_failure = props["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
    assert on_failure == {"Type": "SQS", "Destination": queue}
    assert props["Events"]["Schedule"]["Properties"]["DeadLetterConfig"] == {"Arn": queue}
    alarm = resources["RetrainFailureAlarm"]["Properties"]
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["RetrainFailureQueue", "QueueName"]}}
    ]


def test_the_gate_gives_up_before_the_function_times_out(resources: dict[str, Any]) -> None:
    timeout = resources["RetrainTriggerFunction"]["Properties"]["Timeout"]
    budget = TrainingSettings.model_fields["gate_time_budget_s"].default
    assert timeout <= 900 and budget <= timeout - 60  # a minute for downloads, publishing, the report


def test_the_trigger_may_write_reports_beside_the_candidate(resources: dict[str, Any]) -> None:
    statements = resources["RetrainTriggerFunction"]["Properties"]["Policies"][0]["Statement"]
    [put] = [s for s in statements if s["Action"] == ["s3:PutObject"]]
    assert {"Fn::Sub": "${ModelsBucket.Arn}/training-jobs/*"} in put["Resource"]
