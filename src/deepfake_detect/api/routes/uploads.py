"""Cloud mode: a presigned POST so the client uploads straight to the bucket (``POST /v1/uploads``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from deepfake_detect.api.deps import (
    REPLAYED_HEADER,
    CallerDep,
    ServicesDep,
    checked_idempotency_key,
    client_error,
    error_responses,
    key_reused,
    refused,
)
from deepfake_detect.core.errors import ErrorCode, MediaError
from deepfake_detect.store.uploads import UploadKeyReusedError

router = APIRouter()


class UploadRequest(BaseModel):
    filename: str
    content_type: str
    size: int | None = Field(
        None,
        ge=1,
        description="the file's size in bytes (optional): checked against the limit now, and the "
        "only size the presigned POST accepts; part of what an Idempotency-Key names",
    )


@router.post("/v1/uploads", tags=["detect"], responses=error_responses(400, 401, 413, 415, 422))
def create_upload(
    services: ServicesDep,
    caller: CallerDep,
    request: UploadRequest,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="the same key with the same file name, type and size again answers with "
            "the first upload (a fresh POST for the same object while its file has not arrived, "
            "else its result) instead of a second upload and scan; another file under a used key "
            "is 422 idempotency_key_reused",
        ),
    ] = None,
) -> JSONResponse:
    """Cloud only: a presigned POST to upload one file straight to the bucket; the file and its
    result are the caller's. A replayed answer (``Idempotent-Replayed: true``, ``replayed``) with
    ``uploaded`` true carries no POST but the ``result`` as it stands: poll ``result_url``."""
    if services.uploads is None:  # the router is only included in cloud mode
        raise client_error(500, ErrorCode.INTERNAL_ERROR, "this service has no upload signer")
    key = checked_idempotency_key(idempotency_key)
    try:
        ticket = services.uploads.presign(
            request.filename,
            request.content_type,
            caller.owner,
            size=request.size,
            idempotency_key=key,
        )
    except MediaError as exc:
        raise refused(exc) from None
    except UploadKeyReusedError as exc:
        raise key_reused(exc.result_id, exc.differs) from None
    headers = {REPLAYED_HEADER: "true"} if ticket.get("replayed") else None
    return JSONResponse(ticket, headers=headers)
