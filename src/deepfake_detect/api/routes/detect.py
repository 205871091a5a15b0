"""Local mode: upload a file and scan it in-process (``POST /v1/detect``)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

from fastapi import APIRouter, File, Header, HTTPException, UploadFile, status
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from deepfake_detect.api.deps import (
    REPLAYED_HEADER,
    CallerDep,
    ErrorResponse,
    ServicesDep,
    checked_idempotency_key,
    client_error,
    error_responses,
    failure,
    key_reused,
    refused,
    result_deleted,
)
from deepfake_detect.api.services import Services
from deepfake_detect.core.errors import ErrorCode, MediaError
from deepfake_detect.core.formats import CONTENT_TYPES, check_upload, upload_name
from deepfake_detect.core.hashing import stream_sha256
from deepfake_detect.core.result import DetectionResult, MediaKind, Status
from deepfake_detect.store.base import ResultDeletedError
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
        **error_responses(400, 403, 410, 413, 415, 422, 500, 503, 507),
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
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="the same key (and the same file) again answers with the first upload's "
            "result instead of scanning the file twice; a different file under a used key is 422",
        ),
    ] = None,
) -> Response:
    """Upload a file and scan it. Images answer with the finished result; videos answer 202
    with a queued record to poll at ``GET /v1/results/{id}``. A full queue answers 429 with
    ``Retry-After``; a body over the size limit is refused with 413 before it is read. A result
    deleted before its scan finished answers 410 ``result_deleted``; a full disk 507
    ``insufficient_storage``, storage that cannot be written 503 ``storage_unavailable``."""
    processor = services.processor
    if processor is None:  # the router is only included in local mode
        raise client_error(500, ErrorCode.INTERNAL_ERROR, "this service has no scanner")
    key = checked_idempotency_key(idempotency_key) if services.idempotency is not None else None
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
    media_key = f"uploads/{result_id}/upload.{container}"
    retry_after_s = services.settings.service.storage_retry_after_s
    # The file's own fingerprint, for a report to name the exact bytes that were checked.
    digest = await run_in_threadpool(_sha256, file)
    if key is not None and services.idempotency is not None:
        first = await run_in_threadpool(services.idempotency.find_idempotent, caller.owner, key)
        if first is not None:  # a retry: the first upload's answer, no second scan
            return _replayed(services, first, digest)
    record = DetectionResult(
        id=result_id,
        path=name,
        media_kind=kind,
        status=Status.QUEUED,
        source={"key": media_key, "store": "local", "sha256": digest},
        owner=caller.owner,
    )
    try:
        # Blocking work (disk copy, header probe, waiting for the scan) stays off the event loop.
        await run_in_threadpool(services.media.put, media_key, file.file, CONTENT_TYPES[container])
        if key is not None and services.idempotency is not None:
            first = await run_in_threadpool(services.idempotency.put_idempotent, record, key)
            if first is not None:  # the same key won a race with this upload: its answer
                processor.discard(record)
                return _replayed(services, first, digest)
        else:
            services.results.put(record)
        rejected = await run_in_threadpool(processor.precheck, record)
        if rejected is not None:  # on record as failed, with the reason; its file is deleted
            raise failure(rejected, retry_after_s)
        future = processor.submit(result_id, bounded=True)
    except QueueFullError as exc:  # filled up since check_room: nothing of this upload is kept
        processor.discard(record)
        raise busy(exc) from None
    except ResultDeletedError:  # deleted (through the history) before its scan was queued
        processor.discard(record)
        raise result_deleted(result_id) from None
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
    try:
        result = future.result()
    except BaseException:  # the scan could not even record its failure (a full disk): no trace kept
        processor.discard(record)
        raise
    if result is None:  # deleted while it was queued or scanned: the worker removed its files
        raise result_deleted(result_id)
    if result.error is not None:
        raise failure(result, retry_after_s)
    return JSONResponse(result.model_dump(mode="json"))


def _replayed(services: Services, first: DetectionResult, digest: str) -> Response:
    """The answer to a retried upload: the first upload's, as it stands now (done: 200; failed:
    its error; still queued or scanning: 202), marked ``Idempotent-Replayed: true``. A different
    file under the same key is 422: a key names one upload."""
    if first.source.get("sha256") != digest:
        raise key_reused(first.id, "file")
    if first.error is not None:
        error = failure(first, services.settings.service.storage_retry_after_s)
        error.headers = {**(error.headers or {}), REPLAYED_HEADER: "true"}
        raise error
    code = status.HTTP_200_OK if first.status is Status.DONE else status.HTTP_202_ACCEPTED
    return JSONResponse(first.model_dump(mode="json"), status_code=code, headers={REPLAYED_HEADER: "true"})


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
