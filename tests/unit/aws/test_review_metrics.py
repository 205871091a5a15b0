"""Reviewers' agreement in the cloud: the EMF metrics the API function writes for each label, and
template.yaml's alarm (share overturned in a day, at least N labels, metric math) and dashboard
widgets over them."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from deepfake_detect.aws import observability
from deepfake_detect.aws.observability import ReviewMetrics
from deepfake_detect.core.result import DetectionResult, ModelInfo, Status, Verdict
from deepfake_detect.registry.feedback import Feedback, Label
from deepfake_detect.settings import Settings
from infra.local.stack import load_template

REVIEW_METRICS = (
    observability.REVIEWER_AGREEMENT,
    observability.REVIEWER_OVERTURNED,
    observability.REVIEWER_FALSE_POSITIVES,
    observability.REVIEWER_MISSES,
)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def _emitted(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def _label(label: Label) -> Feedback:
    return Feedback(result_id="r1", label=label, media_key="uploads/r1/a.jpg")


def test_each_label_writes_one_emf_document_per_model_version_and_in_all(
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings(_env_file=None).updated(  # type: ignore[call-arg]
        {"aws.metrics_namespace": "DeepfakeDetect", "aws.service_name": "stack-a"}
    )
    metrics = ReviewMetrics(settings)
    result = DetectionResult(
        id="r1",
        path="a.jpg",
        status=Status.DONE,
        verdict=Verdict.FAKE,
        model=ModelInfo(name="m", version="2026.11.30-1404", sha256="0" * 64),
    )
    metrics.record(result, _label(Label.REAL), None)  # a false positive
    [document] = _emitted(capsys)
    [directive] = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "DeepfakeDetect"
    assert sorted(map(sorted, directive["Dimensions"])) == [["model_version", "service"], ["service"]]
    assert {m["Name"] for m in directive["Metrics"]} == set(REVIEW_METRICS)
    assert document["service"] == "stack-a" and document["model_version"] == "2026.11.30-1404"
    values = {name: document[name] for name in REVIEW_METRICS}
    assert values == {
        "ReviewerAgreement": [0.0],
        "ReviewerOverturned": [1.0],
        "ReviewerFalsePositives": [1.0],
        "ReviewerMisses": [0.0],
    }

    # The same label again changes nothing; the other label moves the count.
    metrics.record(result, _label(Label.REAL), _label(Label.REAL))
    assert _emitted(capsys) == []
    metrics.record(result, _label(Label.FAKE), _label(Label.REAL))
    [moved] = _emitted(capsys)
    assert {name: moved[name] for name in REVIEW_METRICS} == {
        "ReviewerAgreement": [1.0],
        "ReviewerOverturned": [-1.0],
        "ReviewerFalsePositives": [-1.0],
        "ReviewerMisses": [0.0],
    }
    # A result without a model (older records) is still counted, under "none".
    metrics.record(result.model_copy(update={"model": None}), _label(Label.FAKE), None)
    [unversioned] = _emitted(capsys)
    assert unversioned["model_version"] == "none" and unversioned["ReviewerAgreement"] == [1.0]


def test_the_alarm_reads_the_share_overturned_in_a_day_with_enough_labels(template: dict[str, Any]) -> None:
    parameters = template["Parameters"]
    assert parameters["ReviewerOverturnAlarmShare"]["Default"] == 0.2
    assert parameters["ReviewerOverturnAlarmMinLabels"]["Default"] >= 1
    alarm = template["Resources"]["ReviewerOverturnAlarm"]["Properties"]
    assert alarm["Threshold"] == {"Ref": "ReviewerOverturnAlarmShare"}
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    queries = {q["Id"]: q for q in alarm["Metrics"]}
    expression = queries["share"]["Expression"]["Fn::Sub"]
    assert "${ReviewerOverturnAlarmMinLabels}" in expression
    assert "overturned" in expression and "agreed" in expression
    for query_id, metric in (("agreed", "ReviewerAgreement"), ("overturned", "ReviewerOverturned")):
        stat = queries[query_id]["MetricStat"]
        assert queries[query_id]["ReturnData"] is False
        assert stat["Metric"]["MetricName"] == metric and metric in REVIEW_METRICS
        assert stat["Metric"]["Namespace"] == "DeepfakeDetect"
        # The dimension set the function writes for every label: the service alone.
        assert stat["Metric"]["Dimensions"] == [{"Name": "service", "Value": {"Ref": "AWS::StackName"}}]
        assert (stat["Period"], stat["Stat"]) == (86400, "Sum")


def test_the_dashboard_shows_labels_per_model_version_and_the_alarm(template: dict[str, Any]) -> None:
    body = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    rendered = re.sub(r"\$\{([^}]+)\}", lambda m: f"x-{m.group(1)}", body)
    widgets = json.loads(rendered)["widgets"]
    expressions = [
        line[0]["expression"]
        for widget in widgets
        for line in widget["properties"].get("metrics", [])
        if isinstance(line[0], dict) and "expression" in line[0]
    ]
    for metric in REVIEW_METRICS:
        [search] = [e for e in expressions if f'MetricName="{metric}"' in e]
        assert search.startswith("SEARCH('{DeepfakeDetect,model_version,service}")
    alarms = [w["properties"]["annotations"]["alarms"] for w in widgets if "annotations" in w["properties"]]
    assert alarms == [["x-ReviewerOverturnAlarm.Arn"]]
    # No two widgets overlap on the grid.
    cells = set()
    for widget in widgets:
        for x in range(widget["x"], widget["x"] + widget["width"]):
            for y in range(widget["y"], widget["y"] + widget["height"]):
                assert (x, y) not in cells, widget["properties"].get("title")
                cells.add((x, y))


def test_the_api_may_read_labels_in_batches_and_query_the_owner_index(template: dict[str, Any]) -> None:
    statements = template["Resources"]["ApiFunction"]["Properties"]["Policies"][0]["Statement"]
    [feedback] = [s for s in statements if s["Sid"] == "Feedback"]
    assert "dynamodb:BatchGetItem" in feedback["Action"]
    [results] = [s for s in statements if s["Sid"] == "Results"]
    assert "dynamodb:BatchGetItem" in results["Action"]
    [listing] = [s for s in statements if s["Sid"] == "ListResults"]
    assert listing["Action"] == ["dynamodb:Query"]
