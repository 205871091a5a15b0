"""template.yaml's completion events: the bus the detect function publishes to, and the optional
webhook (an API destination) created only with a URL and a secret."""

from __future__ import annotations

from typing import Any

import pytest

from deepfake_detect.store.events import DETAIL_TYPE, EVENT_SOURCE
from infra.local.stack import load_template

WEBHOOK_RESOURCES = {
    "WebhookConnection",
    "WebhookDestination",
    "WebhookRole",
    "WebhookDeadLetterQueue",
    "WebhookDeadLetterQueuePolicy",
    "ScanCompletedWebhookRule",
    "WebhookDeadLetterAlarm",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def test_the_detect_function_publishes_to_the_stacks_bus(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    assert resources["EventBus"]["Type"] == "AWS::Events::EventBus"
    detect = resources["DetectFunction"]["Properties"]
    assert detect["Environment"]["Variables"]["DEEPFAKE_AWS_EVENT_BUS_NAME"] == {"Ref": "EventBus"}
    statements = [s for p in detect["Policies"] for s in p["Statement"]]
    [publish] = [s for s in statements if "events:PutEvents" in s["Action"]]
    assert publish["Resource"] == {"Fn::GetAtt": ["EventBus", "Arn"]}
    assert template["Outputs"]["EventBusName"]["Value"] == {"Ref": "EventBus"}


def test_the_webhook_exists_only_with_a_url_and_a_secret(template: dict[str, Any]) -> None:
    parameters, resources = template["Parameters"], template["Resources"]
    assert parameters["WebhookUrl"]["Default"] == "" and parameters["WebhookSecret"]["NoEcho"] is True
    assert {name for name, r in resources.items() if r.get("Condition") == "HasWebhook"} == WEBHOOK_RESOURCES
    condition = str(template["Conditions"]["HasWebhook"])
    assert "WebhookUrl" in condition and "WebhookSecret" in condition
    auth = resources["WebhookConnection"]["Properties"]["AuthParameters"]["ApiKeyAuthParameters"]
    assert auth == {"ApiKeyName": "X-Deepfake-Webhook-Secret", "ApiKeyValue": {"Ref": "WebhookSecret"}}


def test_the_webhook_rule_matches_what_the_function_puts(template: dict[str, Any]) -> None:
    rule = template["Resources"]["ScanCompletedWebhookRule"]["Properties"]
    assert rule["EventBusName"] == {"Ref": "EventBus"}
    assert rule["EventPattern"] == {"source": [EVENT_SOURCE], "detail-type": [DETAIL_TYPE]}
    [target] = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["WebhookDestination", "Arn"]}
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["WebhookDeadLetterQueue", "Arn"]}
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] == 86400
    archive = template["Resources"]["EventArchive"]["Properties"]
    assert archive["EventPattern"] == {"source": [EVENT_SOURCE]}
