"""What every route needs: the services the app was built over, and one shape for client errors."""

from __future__ import annotations

import logging
import sqlite3
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from deepfake_detect.api.identity import Caller
from deepfake_detect.api.services import Services
from deepfake_detect.core.errors import (
    CLIENT_ERROR_STATUS,
    RESULT_DELETED_STATUS,
    SERVER_ERROR_STATUS,
    STORAGE_MESSAGES,
    ErrorCode,
    MediaError,
    failure_status,
    public_message,
    storage_fault,
)
from deepfake_detect.core.result import DetectionResult
from deepfake_detect.store.deletion import DeletionMarks

log = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    code: str
    message: str
    result_id: str | None = None


class ErrorResponse(BaseModel):
    """Every error this service answers itself: ``{"detail": {"code", "message", "result_id"}}``."""

    detail: ErrorBody


class ValidationErrorResponse(BaseModel):
    """FastAPI's own 422: a parameter or body field that does not match the schema."""

    detail: list[dict[str, Any]]


# The documented error answers of a route (OpenAPI ``responses``); a 422 is ours or FastAPI's.
def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {
        code: {"model": ErrorResponse | ValidationErrorResponse if code == 422 else ErrorResponse}
        for code in codes
    }


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_caller(request: Request, services: ServicesDep) -> Caller:
    """The caller, or 401 when the deployment cannot tell who it is (in the cloud: no verified
    token's claims reached the function, which only a route outside the authorizer would allow)."""
    caller = services.identity(request)
    if caller is None:
        raise client_error(
            status.HTTP_401_UNAUTHORIZED,
            "unauthenticated",
            "sign in: this request carries no verified identity",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


def owned_result(
    services: Services, caller: Caller, result_id: str, *, deleted_is_gone: bool = True
) -> DetectionResult:
    """The caller's own result; 404 for one that does not exist and for another owner's alike
    (a 403 would confirm that the id exists). The caller's own result deleted a short while ago
    is 410 ``result_deleted`` where the store keeps its tombstone (the cloud: a client polling an
    upload learns that it was deleted, as the local service's upload answers), unless
    ``deleted_is_gone`` is False (DELETE: a repeat answers 404 as before)."""
    result = services.results.get(result_id)
    if result is None and deleted_is_gone and isinstance(services.results, DeletionMarks):
        mark = services.results.tombstone(result_id)
        if mark is not None and mark.owner is not None and mark.owner == caller.owner:
            raise result_deleted(result_id, f"result {result_id!r} was deleted; nothing of it is kept")
    if result is None or not caller.owns(result):
        raise client_error(404, "result_not_found", f"no result with id {result_id!r}")
    return result


def error_body(code: ErrorCode | str, message: str, result_id: str | None = None) -> dict[str, Any]:
    return ErrorBody(code=str(code), message=public_message(message), result_id=result_id).model_dump()


def client_error(
    status_code: int,
    code: ErrorCode | str,
    message: str,
    result_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> HTTPException:
    return HTTPException(
        status_code=status_code, detail=error_body(code, message, result_id), headers=headers
    )


def refused(error: MediaError) -> HTTPException:
    """The HTTP error for an upload refused before anything was stored."""
    return client_error(
        CLIENT_ERROR_STATUS.get(error.code, status.HTTP_400_BAD_REQUEST), error.code, error.message
    )


def failure(result: DetectionResult, retry_after_s: int | None = None) -> HTTPException:
    """The HTTP error for a failed scan: 4xx for what the client sent, 5xx for our own faults
    (a storage fault's with ``Retry-After``)."""
    assert result.error is not None
    code = failure_status(result.error.code)
    headers = None
    if result.error.code in STORAGE_MESSAGES and retry_after_s is not None:
        headers = {"Retry-After": str(retry_after_s)}
    return client_error(code, result.error.code, result.error.message, result.id, headers=headers)


def result_deleted(result_id: str, message: str | None = None) -> HTTPException:
    """410 ``result_deleted``: the result was deleted while its upload or scan was running (or,
    with ``message``, some other time before the request)."""
    return client_error(
        RESULT_DELETED_STATUS,
        ErrorCode.RESULT_DELETED,
        message or f"result {result_id!r} was deleted before its scan finished; nothing of it is kept",
        result_id,
    )


# An Idempotency-Key (POST /v1/detect, POST /v1/uploads): 1-200 printable ASCII characters (a
# UUID, a hash, "<sha256>-<name hash>"); a replayed answer says so in this header.
MAX_IDEMPOTENCY_KEY_LENGTH = 200
REPLAYED_HEADER = "Idempotent-Replayed"


def checked_idempotency_key(key: str | None) -> str | None:
    """The ``Idempotency-Key`` header as given, or 400 ``invalid_idempotency_key``."""
    if key is None:
        return None
    if not 0 < len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise client_error(
            400,
            "invalid_idempotency_key",
            f"an Idempotency-Key is 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters",
        )
    return key


def key_reused(result_id: str, what: str) -> HTTPException:
    """422 ``idempotency_key_reused``: the key already names another upload (``what`` differs)."""
    return client_error(
        422,
        "idempotency_key_reused",
        f"this Idempotency-Key was already used for a different {what} "
        f"(result {result_id!r}); send a new key with a new file",
        result_id,
    )


def storage_error(code: ErrorCode, retry_after_s: int) -> HTTPException:
    """507 ``insufficient_storage`` or 503 ``storage_unavailable``, with ``Retry-After``."""
    return client_error(
        SERVER_ERROR_STATUS[code], code, STORAGE_MESSAGES[code], headers={"Retry-After": str(retry_after_s)}
    )


def install_storage_handlers(app: FastAPI, retry_after_s: int) -> None:
    """A full disk or storage that refuses writes, wherever a route meets it (``OSError``,
    ``sqlite3.OperationalError``), is answered with its storage code (``core.errors.storage_fault``)
    instead of 500; any other such exception goes on to the 500 handler."""

    async def storage(request: Request, exc: Exception) -> JSONResponse:
        code = storage_fault(exc)
        if code is None:
            raise exc
        log.warning("storage fault on %s %s: %r", request.method, request.url.path, exc)
        error = storage_error(code, retry_after_s)
        return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=error.headers)

    app.add_exception_handler(OSError, storage)
    app.add_exception_handler(sqlite3.OperationalError, storage)
