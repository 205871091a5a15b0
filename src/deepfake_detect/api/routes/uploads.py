"""Cloud mode: a presigned POST so the client uploads straight to the bucket (``POST /v1/uploads``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from deepfake_detect.api.deps import CallerDep, ServicesDep, client_error, error_responses, refused
from deepfake_detect.core.errors import ErrorCode, MediaError
from deepfake_detect.core.formats import check_content_type

router = APIRouter()


class UploadRequest(BaseModel):
    filename: str
    content_type: str


@router.post("/v1/uploads", tags=["detect"], responses=error_responses(400, 401, 413, 415))
def create_upload(services: ServicesDep, caller: CallerDep, request: UploadRequest) -> dict[str, Any]:
    """Cloud only: a presigned POST to upload one file straight to the bucket; the file and its
    result are the caller's."""
    if services.uploads is None:  # the router is only included in cloud mode
        raise client_error(500, ErrorCode.INTERNAL_ERROR, "this service has no upload signer")
    try:
        check_content_type(request.content_type)
    except MediaError as exc:
        raise refused(exc) from None
    return services.uploads.presign(request.filename, request.content_type, caller.owner)
