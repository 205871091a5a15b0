"""Cloud uploads: the client gets a presigned POST, so the file goes straight to the upload bucket
(API Gateway caps a request at 10 MB and Lambda at 6 MB), and a queued record to poll; S3 notifies
the detect queue, and the detect function writes the result (``POST /v1/uploads``)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

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
