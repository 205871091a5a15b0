"""Lambda entry point of the retrain trigger (container image, the detect function's image with
another command: the gate runs the same detection pipeline, so it needs the same models).

Events: the EventBridge schedule (or a manual ``{"action": "launch"}``) starts a SageMaker training
job unless one is running; "SageMaker Training Job State Change" gates and promotes a completed
job's model, and records failed or stopped jobs; the stack's ``SeedModelPointer`` custom resource
seeds the model pointer once; ``{"action": "reconcile"}`` only settles half-done work. Every event
first finishes what a crashed invocation left half done. Each outcome is a metric; the template's
alarms watch ``TrainingJobsFailed`` and the on-failure queue.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from deepfake_detect.aws.retrain_trigger import OUTCOME_METRICS, aws_trigger, handle_event
from deepfake_detect.settings import get_settings

settings = get_settings()
logger = Logger(service=f"{settings.aws.service_name}-retrain")
metrics = Metrics(namespace=settings.aws.metrics_namespace, service=f"{settings.aws.service_name}-retrain")
trigger = aws_trigger(settings)  # clients once per container


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcome = handle_event(trigger, event)
    metrics.add_metric(name=OUTCOME_METRICS[outcome["outcome"]], unit=MetricUnit.Count, value=1)
    logger.info("retrain trigger", extra=outcome)
    return outcome
