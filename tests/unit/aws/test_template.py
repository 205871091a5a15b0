"""template.yaml: valid for cfn-lint, and consistent with the code that reads its resources."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import pytest

from deepfake_detect.aws import observability
from deepfake_detect.aws.adapters.stores import DynamoDBResultStore
from deepfake_detect.settings import PROJECT_ROOT, Settings
from infra.local.stack import TEMPLATE, load_template


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    resources: dict[str, Any] = load_template()["Resources"]
    return resources


def test_cfn_lint_passes() -> None:
    cfn_lint = shutil.which("cfn-lint", path=str(Path(sys.executable).parent)) or shutil.which("cfn-lint")
    assert cfn_lint, "cfn-lint is a dev dependency"
    run = subprocess.run(
        [cfn_lint, str(TEMPLATE)], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_visibility_timeout_is_at_least_six_times_the_detect_timeout(resources: dict[str, Any]) -> None:
    visibility = resources["DetectQueue"]["Properties"]["VisibilityTimeout"]
    assert visibility >= 6 * resources["DetectFunction"]["Properties"]["Timeout"]


def test_only_the_upload_prefix_is_scanned(resources: dict[str, Any]) -> None:
    [config] = resources["UploadBucket"]["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    [rule] = config["Filter"]["S3Key"]["Rules"]
    assert (rule["Name"], rule["Value"]) == ("prefix", Settings(_env_file=None).aws.upload_prefix)  # type: ignore[call-arg]
    assert config["Event"] == "s3:ObjectCreated:*"


def test_the_results_index_is_the_one_the_store_queries(resources: dict[str, Any]) -> None:
    indexes = resources["ResultsTable"]["Properties"]["GlobalSecondaryIndexes"]
    [index] = [i for i in indexes if i["IndexName"] != "by_file"]
    assert index["IndexName"] == Settings(_env_file=None).aws.results_index  # type: ignore[call-arg]
    # Partitioned by owner, keys only: no whole documents in one constant partition.
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["owner", "created_key"]
    assert index["Projection"]["ProjectionType"] == "KEYS_ONLY"
    api = resources["ApiFunction"]["Properties"]["Policies"][0]["Statement"]
    [query] = [s for s in api if s["Sid"] == "ListResults"]
    assert query["Resource"] == {"Fn::Sub": f"${{ResultsTable.Arn}}/index/{index['IndexName']}"}


def test_the_same_file_index_is_the_one_the_store_queries(resources: dict[str, Any]) -> None:
    table = resources["ResultsTable"]["Properties"]
    [index] = [i for i in table["GlobalSecondaryIndexes"] if i["IndexName"] == "by_file"]
    assert index["IndexName"] == DynamoDBResultStore(cast(Any, None), "results").file_index
    # One owner's copies of one file: the owner is part of the partition key, keys only.
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["file_key", "created_key"]
    assert index["Projection"]["ProjectionType"] == "KEYS_ONLY"
    assert {"AttributeName": "file_key", "AttributeType": "S"} in table["AttributeDefinitions"]
    api = resources["ApiFunction"]["Properties"]["Policies"][0]["Statement"]
    [query] = [s for s in api if s["Sid"] == "SameFileResults"]
    assert query["Action"] == ["dynamodb:Query"]
    assert query["Resource"] == {"Fn::Sub": "${ResultsTable.Arn}/index/by_file"}


def test_the_detect_function_knows_the_queues_receive_count_and_its_time(resources: dict[str, Any]) -> None:
    detect = resources["DetectFunction"]["Properties"]
    env = detect["Environment"]["Variables"]
    redrive = resources["DetectQueue"]["Properties"]["RedrivePolicy"]
    assert int(env["DEEPFAKE_AWS_MAX_RECEIVE_COUNT"]) == redrive["maxReceiveCount"]
    # A scan may start only with time for a scan and the reserve left within the timeout.
    reserve, start = float(env["DEEPFAKE_AWS_FINISH_RESERVE_S"]), float(env["DEEPFAKE_AWS_MIN_START_S"])
    assert reserve < start < detect["Timeout"] / 2
    # Failed asynchronous invocations are kept, not dropped.
    assert detect["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Type"] == "SQS"


def test_the_detect_role_lists_only_the_upload_and_evidence_prefixes(resources: dict[str, Any]) -> None:
    statements = resources["DetectFunction"]["Properties"]["Policies"][0]["Statement"]
    listing = [s for s in statements if "s3:ListBucket" in s["Action"]]
    assert listing and all(
        set(s["Condition"]["StringLike"]["s3:prefix"]) <= {"uploads/*", "evidence/*"} for s in listing
    )


def test_the_dead_letter_queue_has_a_consumer_and_the_alarms_watch_age_and_5xx(
    resources: dict[str, Any],
) -> None:
    consumer = resources["DeadLetterFunction"]["Properties"]
    assert consumer["Events"]["DeadLetters"]["Properties"]["Queue"] == {
        "Fn::GetAtt": ["DeadLetterQueue", "Arn"]
    }
    # Lambda refuses an SQS source whose visibility timeout is shorter than the function's.
    assert resources["DeadLetterQueue"]["Properties"]["VisibilityTimeout"] >= 6 * consumer["Timeout"]
    age = resources["QueueAgeAlarm"]["Properties"]
    assert age["MetricName"] == "ApproximateAgeOfOldestMessage" and age["Namespace"] == "AWS/SQS"
    api = resources["ApiServerErrorAlarm"]["Properties"]["Metrics"]
    assert {q["MetricStat"]["Metric"]["MetricName"] for q in api if "MetricStat" in q} == {"5xx", "Count"}
    assert "DELETE" in resources["HttpApi"]["Properties"]["CorsConfiguration"]["AllowMethods"]


def test_tables_are_on_demand_with_ttl_and_point_in_time_recovery(resources: dict[str, Any]) -> None:
    for name in ("ResultsTable", "IdempotencyTable"):
        props = resources[name]["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["TimeToLiveSpecification"]["Enabled"] is True
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    ttl = {
        name: resources[name]["Properties"]["TimeToLiveSpecification"]["AttributeName"]
        for name in ("ResultsTable", "IdempotencyTable")
    }
    assert ttl == {"ResultsTable": "expires_at", "IdempotencyTable": "expiration"}


def test_function_policies_name_their_actions_and_resources(resources: dict[str, Any]) -> None:
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for policy in resource["Properties"].get("Policies", []):
            for statement in policy["Statement"]:
                assert "*" not in statement["Action"], name
                assert statement["Resource"] != "*", name


def test_alarms_and_dashboard_use_metrics_the_function_emits(resources: dict[str, Any]) -> None:
    emitted = {
        value for key, value in vars(observability).items() if key.isupper() and isinstance(value, str)
    }
    emitted |= set(observability.STAGE_METRICS.values())
    alarm_metrics = {resources["LatencyP95Alarm"]["Properties"]["MetricName"]}
    for query in resources["ErrorRateAlarm"]["Properties"]["Metrics"]:
        if "MetricStat" in query:
            alarm_metrics.add(query["MetricStat"]["Metric"]["MetricName"])
    assert alarm_metrics <= emitted
    body = str(resources["Dashboard"]["Properties"]["DashboardBody"])
    for metric in ("Files", "FakeScore", "ProcessingLatency", "DetectLatency", "FailedFiles"):
        assert f'"{metric}"' in body
