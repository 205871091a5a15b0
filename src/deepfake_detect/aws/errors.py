"""Which failures are the file's fault (recorded once as a failed result) and which are ours or the
network's (raised, so SQS redelivers the message and, after the last try, parks it in the DLQ)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from deepfake_detect.core.errors import ErrorCode, MediaError
from deepfake_detect.store.base import ObjectNotFoundError

# S3 answers these when the object or the version named by the event no longer exists:
# retrying cannot bring it back.
_GONE = {"NoSuchKey", "NoSuchVersion", "NotFound", "404"}


def permanent_error(exc: BaseException) -> tuple[ErrorCode, str] | None:
    """The error code and message to record for a permanent failure; ``None`` for a transient one."""
    if isinstance(exc, MediaError):
        return exc.code, exc.message
    if isinstance(exc, ObjectNotFoundError):  # the media store's "no such object"; any other
        # KeyError is a bug, retried like every transient failure
        return ErrorCode.NOT_FOUND, "the object was deleted before it could be scanned"
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _GONE:
            return ErrorCode.NOT_FOUND, "the object was deleted before it could be scanned"
        if code == "InvalidObjectState":
            return ErrorCode.NOT_FOUND, "the object is archived and cannot be read"
    return None
