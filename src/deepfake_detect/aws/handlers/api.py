"""The API in the cloud: the same FastAPI app over S3 and DynamoDB, served by Lambda through Mangum.

Clients do not send files through the API (API Gateway caps a request at 10 MB and Lambda at
6 MB): ``POST /v1/uploads`` hands out a presigned POST to the upload bucket, S3 notifies the
queue, and the detect function writes the result the client polls at ``GET /v1/results/{id}``.
"""

from __future__ import annotations

from mangum import Mangum

from deepfake_detect.api.app import create_app
from deepfake_detect.aws.wiring import cloud_services
from deepfake_detect.settings import Settings


def make_api_handler(settings: Settings) -> Mangum:
    """The API function's handler: build once per container, then every request reuses it."""
    # No lifespan: the cloud services are ready before the first request and hold no workers.
    return Mangum(create_app(settings, cloud_services(settings)), lifespan="off")
