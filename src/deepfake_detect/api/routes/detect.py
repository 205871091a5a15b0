"""Local mode: upload a file and scan it in-process (``POST /v1/detect``)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

from fastapi import APIRouter, File, HTTPException, UploadFile, status
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from deepfake_detect.api.deps import (
    CallerDep,
    ErrorResponse,
    ServicesDep,
    client_error,
    error_responses,
    failure,
    refused,
)
from deepfake_detect.core.errors import ErrorCode, MediaError
from deepfake_detect.core.formats import CONTENT_TYPES, check_upload, upload_name
from deepfake_detect.core.hashing import stream_sha256
from deepfake_detect.core.result import DetectionResult, MediaKind, Status
from deepfake_detect.store.queue import QueueFullError

router = APIRouter()

# How long an image upload waits for its scan before answering 202 like a video.
IMAGE_WAIT_S = 60.0


@router.post(
    "/v1/detect",
    tags=["detect"],
    status_code=status.HTTP_200_OK,
    responses={
        202: {"model": DetectionResult, "description": "a video, queued for scanning"},
        **error_responses(400, 403, 413, 415, 422, 500, 503),
        429: {
            "model": ErrorResponse,
            "description": "the scan queue is full: try again after Retry-After seconds",
            "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}},
        },
    },
)
async def detect(
    services: ServicesDep,
    caller: CallerDep,
    file: Annotated[UploadFile, File(description="an image or a video")],
) -> Response:
    """Upload a file and scan it. Images answer with the finished result; videos answer 202
    with a queued record to poll at ``GET /v1/results/{id}``. A full queue answers 429 with
    ``Retry-After``; a body over the size limit is refused with 413 before it is read."""
    processor = services.processor
    if processor is None:  # the router is only included in local mode
        raise client_error(500, ErrorCode.INTERNAL_ERROR, "this service has no scanner")
    size = file.size if file.size is not None else _measure(file)
    head = await file.read(64)
    await file.seek(0)
    try:
        kind, container = check_upload(size, head, services.settings.limits.max_upload_bytes)
        processor.check_room(kind)  # before anything is stored
    except MediaError as exc:
        raise refused(exc) from None
    except QueueFullError as exc:
        raise busy(exc) from None
    result_id = uuid.uuid4().hex
    # The name is shown as given, but never used as a path: ".." or a 300-byte name
    # must not decide where the file lands.
    name = upload_name(file.filename or "", f"upload.{container}")
    key = f"uploads/{result_id}/upload.{container}"
    # The file's own fingerprint, for a report to name the exact bytes that were checked.
    digest = await run_in_threadpool(_sha256, file)
    record = DetectionResult(
        id=result_id,
        path=name,
        media_kind=kind,
        status=Status.QUEUED,
        source={"key": key, "store": "local", "sha256": digest},
        owner=caller.owner,
    )
    try:
        # Blocking work (disk copy, header probe, waiting for the scan) stays off the event loop.
        await run_in_threadpool(services.media.put, key, file.file, CONTENT_TYPES[container])
        services.results.put(record)
        rejected = await run_in_threadpool(processor.precheck, record)
        if rejected is not None:  # on record as failed, with the reason; its file is deleted
            raise failure(rejected)
        future = processor.submit(result_id, bounded=True)
    except QueueFullError as exc:  # filled up since check_room: nothing of this upload is kept
        processor.discard(record)
        raise busy(exc) from None
    except HTTPException:
        raise
    except BaseException:  # the request failed or was cancelled before the scan was queued
        processor.discard(record)
        raise
    if kind is MediaKind.VIDEO:
        return JSONResponse(record.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)
    done, _ = await asyncio.wait({asyncio.wrap_future(future)}, timeout=IMAGE_WAIT_S)
    if not done:
        return JSONResponse(record.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)
    result = future.result()
    if result is None:
        raise client_error(500, ErrorCode.INTERNAL_ERROR, "the result was lost", result_id)
    if result.error is not None:
        raise failure(result)
    return JSONResponse(result.model_dump(mode="json"))


def busy(exc: QueueFullError) -> HTTPException:
    return client_error(
        status.HTTP_429_TOO_MANY_REQUESTS,
        "queue_full",
        str(exc),
        headers={"Retry-After": str(exc.retry_after_s)},
    )


def _measure(file: UploadFile) -> int:
    file.file.seek(0, 2)
    size = file.file.tell()
    file.file.seek(0)
    return size


def _sha256(file: UploadFile) -> str:
    """The hex sha256 of the uploaded bytes; the file is left at its start."""
    file.file.seek(0)
    digest = stream_sha256(file.file)
    file.file.seek(0)
    return digest
