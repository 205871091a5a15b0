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
from deepfake_detect.core.formats import upload_name
from deepfake_detect.core.result import DetectionResult, MediaKind, Status
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
        key = f"{settings.upload_prefix}{result_id}/{name}"
        # S3 checks these conditions against the upload itself: the declared type must be the
        # one the client asked for, and the size must be within the limit the scan accepts.
        post = self.client.generate_presigned_post(
            Bucket=settings.upload_bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[
                {"Content-Type": content_type},
                ["content-length-range", 1, settings.max_upload_bytes],
            ],
            ExpiresIn=settings.presign_expires_s,
        )
        kind = MediaKind.VIDEO if content_type.startswith("video/") else MediaKind.IMAGE
        self.results.put(
            DetectionResult(
                id=result_id,
                path=name,
                media_kind=kind,
                status=Status.QUEUED,
                source={"store": "s3", "bucket": settings.upload_bucket, "key": key},
            )
        )
        return {
            "result_id": result_id,
            "key": key,
            "url": post["url"],
            "fields": post["fields"],
            "expires_in": settings.presign_expires_s,
            "max_bytes": settings.max_upload_bytes,
            "result_url": f"/v1/results/{result_id}",
        }


def cloud_services(settings: Settings) -> Services:
    s3 = s3_client(settings)
    media = S3MediaStore(s3, settings.upload_bucket)
    results = DynamoDBResultStore(
        dynamodb_client(settings),
        settings.results_table,
        index=settings.results_index,
        retention=timedelta(days=settings.result_retention_days),
        queued_retention=timedelta(days=settings.queued_retention_days),
        overflow=media,
    )
    card = CurrentModelCard(AwsModelRegistry.from_settings(settings))
    feedback = (
        DynamoDBFeedbackStore(dynamodb_client(settings), settings.feedback_table)
        if settings.feedback_table
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
