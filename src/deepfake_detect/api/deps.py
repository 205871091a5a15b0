"""What every route needs: the services the app was built over, and one shape for client errors."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from pydantic import BaseModel

from deepfake_detect.api.services import Services
from deepfake_detect.core.errors import ErrorCode, MediaError
from deepfake_detect.core.result import DetectionResult


class ErrorBody(BaseModel):
    code: str
    message: str
    result_id: str | None = None


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def client_error(
    status_code: int, code: ErrorCode | str, message: str, result_id: str | None = None
) -> HTTPException:
    body = ErrorBody(code=str(code), message=message, result_id=result_id)
    return HTTPException(status_code=status_code, detail=body.model_dump())


# Which client mistake each failed scan reflects; anything else is our fault (500).
_ERROR_STATUS = {
    ErrorCode.EMPTY_FILE: status.HTTP_400_BAD_REQUEST,
    ErrorCode.FILE_TOO_LARGE: status.HTTP_413_CONTENT_TOO_LARGE,
    ErrorCode.UNSUPPORTED_TYPE: status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    ErrorCode.CORRUPT_MEDIA: status.HTTP_422_UNPROCESSABLE_CONTENT,
    ErrorCode.TOO_MANY_PIXELS: status.HTTP_413_CONTENT_TOO_LARGE,
    ErrorCode.VIDEO_TOO_LONG: status.HTTP_413_CONTENT_TOO_LARGE,
}


def refused(error: MediaError) -> HTTPException:
    """The HTTP error for an upload refused before anything was stored."""
    return client_error(_ERROR_STATUS.get(error.code, status.HTTP_400_BAD_REQUEST), error.code, error.message)


def failure(result: DetectionResult) -> HTTPException:
    """The HTTP error for a failed scan: 4xx for what the client sent, 5xx for our own faults."""
    assert result.error is not None
    fault = (
        status.HTTP_503_SERVICE_UNAVAILABLE
        if result.error.code is ErrorCode.MODEL_ERROR
        else status.HTTP_500_INTERNAL_SERVER_ERROR
    )
    code = _ERROR_STATUS.get(result.error.code, fault)
    return client_error(code, result.error.code, result.error.message, result.id)
