"""The API in the cloud: the same FastAPI app over S3 and DynamoDB, served by Lambda through Mangum.

Clients do not send files through the API (API Gateway caps a request at 10 MB and Lambda at
6 MB): ``POST /v1/uploads`` hands out a presigned POST to the upload bucket, S3 notifies the
queue, and the detect function writes the result the client polls at ``GET /v1/results/{id}``.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from mangum import Mangum

from deepfake_detect.api.app import create_app
from deepfake_detect.api.services import Services
from deepfake_detect.aws.clients import dynamodb_client, s3_client
from deepfake_detect.aws.feedback import DynamoDBFeedbackStore
from deepfake_detect.aws.registry import AwsModelRegistry, CurrentModelCard
from deepfake_detect.aws.stores import DynamoDBResultStore, S3MediaStore
from deepfake_detect.core.formats import check_content_type, upload_name
from deepfake_detect.core.result import DetectionResult, Status
from deepfake_detect.settings import Settings
from deepfake_detect.store.base import ResultStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class S3UploadSigner:
    """Presigned POSTs to ``<upload prefix><result id>/<name>``, with a queued record to poll."""

    def __init__(self, client: S3Client, settings: Settings, results: ResultStore) -> None:
        self.client = client
        self.settings = settings
        self.results = results

    def presign(self, filename: str, content_type: str) -> dict[str, Any]:
        settings = self.settings
        result_id = uuid.uuid4().hex
        name = upload_name(filename, "upload", key_safe=True)
        key = f"{settings.aws.upload_prefix}{result_id}/{name}"
        # S3 checks these conditions against the upload itself: the declared type must be the
        # one the client asked for, and the size must be within the limit the scan accepts.
        post = self.client.generate_presigned_post(
            Bucket=settings.aws.upload_bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[
                {"Content-Type": content_type},
                ["content-length-range", 1, settings.limits.max_upload_bytes],
            ],
            ExpiresIn=settings.aws.presign_expires_s,
        )
        kind = check_content_type(content_type)
        self.results.put(
            DetectionResult(
                id=result_id,
                path=name,
                media_kind=kind,
                status=Status.QUEUED,
                source={"store": "s3", "bucket": settings.aws.upload_bucket, "key": key},
            )
        )
        return {
            "result_id": result_id,
            "key": key,
            "url": post["url"],
            "fields": post["fields"],
            "expires_in": settings.aws.presign_expires_s,
            "max_bytes": settings.limits.max_upload_bytes,
            "result_url": f"/v1/results/{result_id}",
        }


def cloud_services(settings: Settings) -> Services:
    s3 = s3_client(settings)
    media = S3MediaStore(s3, settings.aws.upload_bucket)
    results = DynamoDBResultStore(
        dynamodb_client(settings),
        settings.aws.results_table,
        index=settings.aws.results_index,
        retention=timedelta(days=settings.aws.result_retention_days),
        queued_retention=timedelta(days=settings.aws.queued_retention_days),
        overflow=media,
    )
    card = CurrentModelCard(AwsModelRegistry.from_settings(settings))
    feedback = (
        DynamoDBFeedbackStore(dynamodb_client(settings), settings.aws.feedback_table)
        if settings.aws.feedback_table
        else None
    )
    return Services(
        settings=settings,
        media=media,
        results=results,
        model_card=card,
        uploads=S3UploadSigner(s3, settings, results),
        feedback=feedback,
    )


def make_api_handler(settings: Settings) -> Mangum:
    """The API function's handler: build once per container, then every request reuses it."""
    # No lifespan: the cloud services are ready before the first request and hold no workers.
    return Mangum(create_app(settings, cloud_services(settings)), lifespan="off")
