"""Lambda entry point of the retrain trigger (container image, the detect function's image with
another command: the gate runs the same detection pipeline, so it needs the same models):
``aws/handlers/retrain_trigger.py``, built once per container (its clients and registry).

Events: the EventBridge schedule (or a manual ``{"action": "launch"}``) starts a SageMaker training
job unless one is running; "SageMaker Training Job State Change" gates and promotes a completed
job's model, and records failed or stopped jobs; the stack's ``SeedModelPointer`` custom resource
seeds the model pointer once; ``{"action": "reconcile"}`` only settles half-done work. Every event
first finishes what a crashed invocation left half done. Each outcome is a metric; the template's
alarms watch ``TrainingJobsFailed`` and the on-failure queue.
"""

from __future__ import annotations

from deepfake_detect.aws.handlers.retrain_trigger import make_retrain_handler
from deepfake_detect.settings import get_settings

lambda_handler = make_retrain_handler(get_settings())
