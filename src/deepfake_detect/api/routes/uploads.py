"""Cloud mode: a presigned POST so the client uploads straight to the bucket (``POST /v1/uploads``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from deepfake_detect.api.deps import ServicesDep, client_error
from deepfake_detect.core.errors import ErrorCode
from deepfake_detect.core.formats import CONTENT_TYPES

router = APIRouter()


class UploadRequest(BaseModel):
    filename: str
    content_type: str


@router.post("/v1/uploads", tags=["detect"])
def create_upload(services: ServicesDep, request: UploadRequest) -> dict[str, Any]:
    """Cloud only: a presigned POST to upload one file straight to the bucket."""
    if services.uploads is None:  # the router is only included in cloud mode
        raise client_error(500, ErrorCode.INTERNAL_ERROR, "this service has no upload signer")
    if request.content_type not in CONTENT_TYPES.values():
        raise client_error(
            415,
            ErrorCode.UNSUPPORTED_TYPE,
            f"content type {request.content_type!r} is not a supported image or video",
        )
    return services.uploads.presign(request.filename, request.content_type)
