"""template.yaml's retraining resources agree with the code that uses them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from deepfake_detect.aws.retrain_trigger import FAILED, OUTCOME_METRICS, STATE_CHANGE
from deepfake_detect.settings import PROJECT_ROOT
from infra.local.stack import load_template


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    resources: dict[str, Any] = load_template()["Resources"]
    return resources


def test_schedule_and_rule_send_the_events_the_trigger_handles(resources: dict[str, Any]) -> None:
    events = resources["RetrainTriggerFunction"]["Properties"]["Events"]
    sample = json.loads((PROJECT_ROOT / "functions/retrain_trigger/events/schedule.json").read_text())
    assert json.loads(events["Schedule"]["Properties"]["Input"]) == sample
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
