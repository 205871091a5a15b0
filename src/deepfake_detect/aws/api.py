"""The API in the cloud: the same FastAPI app over S3 and DynamoDB, served by Lambda through Mangum.

Clients do not send files through the API (API Gateway caps a request at 10 MB and Lambda at
6 MB): ``POST /v1/uploads`` hands out a presigned POST to the upload bucket, S3 notifies the
queue, and the detect function writes the result the client polls at ``GET /v1/results/{id}``.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from mangum import Mangum

from deepfake_detect.api.app import create_app
from deepfake_detect.api.identity import jwt_identity
from deepfake_detect.api.services import Services
from deepfake_detect.aws.accuracy import DynamoDBReviewedSource
from deepfake_detect.aws.clients import dynamodb_client, s3_client
from deepfake_detect.aws.feedback import DynamoDBFeedbackStore
from deepfake_detect.aws.observability import ReviewMetrics
from deepfake_detect.aws.registry import AwsModelRegistry, CurrentModelCard
from deepfake_detect.aws.stores import DynamoDBResultStore, S3MediaStore
from deepfake_detect.core.formats import check_content_type, upload_name
from deepfake_detect.core.result import DetectionResult, Status
from deepfake_detect.registry.feedback import channel_media_prefix
from deepfake_detect.settings import Settings
from deepfake_detect.store.base import ResultStore
from deepfake_detect.store.deletion import DeleteHook, ResultDeleter

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# GET /v1/results/export: the most one answer holds. A Lambda answer may be 6 MB in all, JSON
# included; Mangum sends the JSON Lines base64-encoded (4/3 of this: 2 MB) and CSV as text, which
# the JSON of the answer escapes (a quote 2 bytes, a non-ASCII character up to 3 times its UTF-8).
EXPORT_MAX_BYTES = 1_500_000


class S3UploadSigner:
    """Presigned POSTs to ``<upload prefix><result id>/<name>``, with a queued record to poll."""

    def __init__(self, client: S3Client, settings: Settings, results: ResultStore) -> None:
        self.client = client
        self.settings = settings
        self.results = results

    def presign(self, filename: str, content_type: str, owner: str) -> dict[str, Any]:
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
                owner=owner,  # the detect function keeps it on the finished result
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


def cloud_stores(settings: Settings) -> tuple[S3MediaStore, DynamoDBResultStore, ResultDeleter]:
    """The cloud stores and their deleter, without the API (``deepfake-detect delete --aws``)."""
    media = S3MediaStore(s3_client(settings), settings.aws.upload_bucket)
    results = DynamoDBResultStore.from_settings(settings, media)
    feedback = (
        DynamoDBFeedbackStore(dynamodb_client(settings), settings.aws.feedback_table)
        if settings.aws.feedback_table
        else None
    )
    return media, results, cloud_deleter(settings, media, results, feedback)


def cloud_services(settings: Settings) -> Services:
    s3 = s3_client(settings)
    media = S3MediaStore(s3, settings.aws.upload_bucket)
    results = DynamoDBResultStore.from_settings(settings, media)
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
        identity=jwt_identity(settings.aws.reviewers_group),
        deleter=cloud_deleter(settings, media, results, feedback),
        accuracy=DynamoDBReviewedSource(results, feedback),
        review_metrics=ReviewMetrics(settings),
        export_max_bytes=EXPORT_MAX_BYTES,
    )


def cloud_deleter(
    settings: Settings,
    media: S3MediaStore,
    results: DynamoDBResultStore,
    feedback: DynamoDBFeedbackStore | None,
) -> ResultDeleter:
    """Deletes a result in the cloud: the item (a tombstone stays a while), every version of its
    upload and evidence images, its overflowed document, a reviewer's label and the copy of the
    file exported to the training channel in the models bucket."""
    hooks: list[DeleteHook] = []
    if feedback is not None:
        hooks.append(feedback.delete)
    if settings.aws.models_bucket:
        channel = S3MediaStore(media.client, settings.aws.models_bucket)
        prefix = f"{settings.training.data_prefix}feedback/"

        def purge_training_copy(result_id: str) -> None:
            channel.delete_prefix(channel_media_prefix(result_id, prefix))

        hooks.append(purge_training_copy)
    return ResultDeleter(media, results, also=hooks, upload_prefix=settings.aws.upload_prefix)


def make_api_handler(settings: Settings) -> Mangum:
    """The API function's handler: build once per container, then every request reuses it."""
    # No lifespan: the cloud services are ready before the first request and hold no workers.
    return Mangum(create_app(settings, cloud_services(settings)), lifespan="off")
