"""Error codes a result can carry; every failure a user can cause maps to exactly one of them.

And the rules every front end and worker applies to them: which failures are the client's (and
their HTTP status), and what of a message a client may see (``public_message``).
"""

from __future__ import annotations

import re
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


# The HTTP status of each failure caused by the file the client sent; any other failure is ours
# (500, or 503 while the models cannot be loaded). The API answers with it; the local worker deletes
# the file of such a failure (it will never be scanned again) and keeps the file of one of ours.
CLIENT_ERROR_STATUS: dict[ErrorCode, int] = {
    ErrorCode.EMPTY_FILE: 400,
    ErrorCode.FILE_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_TYPE: 415,
    ErrorCode.CORRUPT_MEDIA: 422,
    ErrorCode.TOO_MANY_PIXELS: 413,
    ErrorCode.BAD_DIMENSIONS: 422,
    ErrorCode.VIDEO_TOO_LONG: 413,
}

# Failures caused by the file the client sent (4xx); the rest are ours.
CLIENT_ERRORS = frozenset(CLIENT_ERROR_STATUS)


def failure_status(code: ErrorCode) -> int:
    """The HTTP status of a failed scan: 4xx for what the client sent, 5xx for our own faults."""
    return CLIENT_ERROR_STATUS.get(code, 503 if code is ErrorCode.MODEL_ERROR else 500)


# An absolute POSIX path: the directories are dropped, the file name kept.
_DIRECTORIES = re.compile(r"(?<![\w.:/~-])/(?:[^\s'\"()\[\]<>:,;/]+/)+")


def public_message(text: str) -> str:
    """``text`` without the directories of the paths in it, so an error shown to a client names
    ``missing.onnx`` but not where the service is installed."""
    return _DIRECTORIES.sub("", text)
