"""Everything AWS: every boto3 and Powertools use of the project.

- ``handlers/``: one module per Lambda function (detect, dead letters, retrain trigger, api) and
  the backfill command, Powertools style: module-level logger and metrics, a handler object built
  once per container by ``make_*_handler``; ``functions/*/app.py`` are their entry points.
- ``adapters/``: the ports' AWS implementations and AWS's formats: S3/DynamoDB stores, the SSM/S3
  model registry, feedback and accuracy readers, presigned uploads, the EventBridge publisher,
  S3 event notifications (``s3_events.py``) and the boto3 clients.
- ``wiring.py`` builds them from the settings; ``failures.py`` (which failures are permanent, and
  the failed result of an object given up on), ``budget.py`` (an invocation's time) and
  ``observability.py`` (logs, metrics, traces) serve the handlers.

Nothing here is imported by the core or the local service; it needs the ``aws`` extra (boto3,
aws-lambda-powertools).
"""
