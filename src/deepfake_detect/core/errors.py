"""Error codes a result can carry; every failure a user can cause maps to exactly one of them.

And the rules every front end and worker applies to them: which failures are the client's (and
their HTTP status), and what of a message a client may see (``public_message``).
"""

from __future__ import annotations

import errno
import re
import sqlite3
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
    # The result was deleted while its upload or scan was still running (a client's own race).
    RESULT_DELETED = "result_deleted"
    # Storage faults: the disk (or quota) is full, or the store cannot be written (read-only).
    INSUFFICIENT_STORAGE = "insufficient_storage"
    STORAGE_UNAVAILABLE = "storage_unavailable"


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


# Our own faults with a status of their own (the rest are 500): a model that cannot be loaded and
# storage that cannot be written are answered 503 (try again later), a full disk 507.
SERVER_ERROR_STATUS: dict[ErrorCode, int] = {
    ErrorCode.MODEL_ERROR: 503,
    ErrorCode.INSUFFICIENT_STORAGE: 507,
    ErrorCode.STORAGE_UNAVAILABLE: 503,
}

# A request that raced a deletion of its own result: 410 Gone, nothing of it is kept.
RESULT_DELETED_STATUS = 410


def failure_status(code: ErrorCode) -> int:
    """The HTTP status of a failed scan: 4xx for what the client sent, 5xx for our own faults."""
    if code is ErrorCode.RESULT_DELETED:
        return RESULT_DELETED_STATUS
    return CLIENT_ERROR_STATUS.get(code, SERVER_ERROR_STATUS.get(code, 500))


# errno values of a full disk or quota, and of storage that refuses writes.
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
_UNWRITABLE = frozenset({errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO})
# What SQLite says for the same faults (sqlite3.OperationalError's text).
_SQLITE_FULL = ("database or disk is full",)
_SQLITE_UNWRITABLE = ("readonly database", "disk i/o error", "unable to open database file")


def storage_fault(exc: BaseException) -> ErrorCode | None:
    """The storage error code of an exception raised while writing a store, or None when it is not
    a storage fault: ``insufficient_storage`` for a full disk or quota (ENOSPC, EDQUOT, SQLite's
    "database or disk is full"), ``storage_unavailable`` for storage that refuses writes (EROFS,
    EACCES, EIO, a read-only database). Follows ``__cause__``/``__context__`` one level deep (a
    store that wraps the OSError)."""
    for candidate in (exc, exc.__cause__, exc.__context__):
        if isinstance(candidate, sqlite3.OperationalError):
            text = str(candidate).lower()
            if any(s in text for s in _SQLITE_FULL):
                return ErrorCode.INSUFFICIENT_STORAGE
            if any(s in text for s in _SQLITE_UNWRITABLE):
                return ErrorCode.STORAGE_UNAVAILABLE
        elif isinstance(candidate, OSError) and candidate.errno is not None:
            if candidate.errno in _FULL:
                return ErrorCode.INSUFFICIENT_STORAGE
            if candidate.errno in _UNWRITABLE:
                return ErrorCode.STORAGE_UNAVAILABLE
    return None


STORAGE_MESSAGES: dict[ErrorCode, str] = {
    ErrorCode.INSUFFICIENT_STORAGE: "the service's storage is full; try again once space is freed",
    ErrorCode.STORAGE_UNAVAILABLE: "the service's storage cannot be written just now; try again later",
}


# An absolute POSIX path: the directories are dropped, the file name kept.
_DIRECTORIES = re.compile(r"(?<![\w.:/~-])/(?:[^\s'\"()\[\]<>:,;/]+/)+")


def public_message(text: str) -> str:
    """``text`` without the directories of the paths in it, so an error shown to a client names
    ``missing.onnx`` but not where the service is installed."""
    return _DIRECTORIES.sub("", text)
