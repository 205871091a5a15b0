"""template.yaml: valid for cfn-lint, and consistent with the code that reads its resources."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from deepfake_detect.aws import observability
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
    [index] = resources["ResultsTable"]["Properties"]["GlobalSecondaryIndexes"]
    assert index["IndexName"] == Settings(_env_file=None).aws.results_index  # type: ignore[call-arg]
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["list_pk", "created_key"]


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
