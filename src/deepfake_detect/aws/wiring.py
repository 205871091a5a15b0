"""Builds the AWS environment's objects from settings, in one place: the detect function's
detector, and the cloud API's services and stores (the API function, ``deepfake-detect ... --aws``,
the local stack). The scanning stack (OpenCV, ONNX Runtime) is imported only by ``live_detector``
(the API's zip has none) and FastAPI only by ``cloud_services`` (the detect container has no use
for it).
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from deepfake_detect.aws.adapters.accuracy import DynamoDBReviewedSource
from deepfake_detect.aws.adapters.clients import dynamodb_client, s3_client
from deepfake_detect.aws.adapters.feedback import DynamoDBFeedbackStore
from deepfake_detect.aws.adapters.registry import AwsModelRegistry, CurrentModelCard
from deepfake_detect.aws.adapters.stores import DynamoDBResultStore, S3MediaStore
from deepfake_detect.aws.adapters.trust import with_c2pa_trust_anchors
from deepfake_detect.aws.adapters.uploads import DynamoDBUploadKeys, S3UploadSigner
from deepfake_detect.aws.observability import ReviewMetrics
from deepfake_detect.registry.feedback import channel_media_prefix
from deepfake_detect.settings import Settings
from deepfake_detect.store.deletion import DeleteHook, ResultDeleter

if TYPE_CHECKING:
    from deepfake_detect.api.services import Services
    from deepfake_detect.core.pipeline import ScanPipeline

# GET /v1/results/export: the most one answer holds. A Lambda answer may be 6 MB in all, JSON
# included; Mangum sends the JSON Lines base64-encoded (4/3 of this: 2 MB) and CSV as text, which
# the JSON of the answer escapes (a quote 2 bytes, a non-ASCII character up to 3 times its UTF-8).
EXPORT_MAX_BYTES = 1_500_000


def live_detector(settings: Settings) -> ScanPipeline:
    """The detect function's detector: the baked-in models, kept on the SSM pointer's model.
    Without a model parameter (a deployment with no registry) it is the plain detector. The C2PA
    trust anchors of ``aws.c2pa_trust_anchors_uri`` are read from S3 first (aws/adapters/trust.py)."""
    from deepfake_detect.core.pipeline import ScanPipeline
    from deepfake_detect.registry.live import LivePipeline

    if settings.aws.c2pa_trust_anchors_uri:  # read once, here at the cold start
        settings = with_c2pa_trust_anchors(settings, s3_client(settings))
    if not settings.aws.model_parameter:
        return ScanPipeline(settings.pipeline())
    return LivePipeline(
        settings.pipeline(),
        AwsModelRegistry.from_settings(settings),
        Path(tempfile.gettempdir()) / "live-model",
        interval_s=settings.model_refresh_s,
    )


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
    """The cloud API's services (the detect container, which imports this module too, has no use
    for FastAPI: imported here)."""
    from deepfake_detect.api.identity import jwt_identity
    from deepfake_detect.api.services import Services

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
        uploads=S3UploadSigner(s3, settings, results, upload_keys(settings)),
        feedback=feedback,
        identity=jwt_identity(settings.aws.reviewers_group),
        deleter=cloud_deleter(settings, media, results, feedback),
        accuracy=DynamoDBReviewedSource(results, feedback),
        review_metrics=ReviewMetrics(settings),
        export_max_bytes=EXPORT_MAX_BYTES,
    )


def upload_keys(settings: Settings) -> DynamoDBUploadKeys | None:
    """``POST /v1/uploads``'s ``Idempotency-Key`` claims, in the idempotency table (none without
    one: a key is then ignored). A claim is kept as long as a finished result."""
    if not settings.aws.idempotency_table:
        return None
    keep = timedelta(days=settings.aws.result_retention_days)
    return DynamoDBUploadKeys(dynamodb_client(settings), settings.aws.idempotency_table, keep)


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
