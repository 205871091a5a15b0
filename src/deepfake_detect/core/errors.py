"""Error codes a result can carry; every failure a user can cause maps to exactly one of them."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    NOT_FOUND = "not_found"
    EMPTY_FILE = "empty_file"
    FILE_TOO_LARGE = "file_too_large"
    UNSUPPORTED_TYPE = "unsupported_type"
    CORRUPT_MEDIA = "corrupt_media"
    TOO_MANY_PIXELS = "too_many_pixels"
    BAD_DIMENSIONS = "bad_dimensions"  # a side too long, or sides too unequal, to be a picture of a face
    VIDEO_TOO_LONG = "video_too_long"
    MODEL_ERROR = "model_error"
    INTERNAL_ERROR = "internal_error"
    SCAN_TIMEOUT = "scan_timeout"  # the scan could not finish within the time the worker has


class MediaError(Exception):
    """A problem with the input the caller gave us: recorded as a failed result, never retried."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
