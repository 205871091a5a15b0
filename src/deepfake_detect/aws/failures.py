"""Failures in the cloud: which are the file's fault (``permanent_error``: recorded once as a failed
result) and which are ours or the network's (raised, so SQS redelivers the message and, after the
last try, parks it in the DLQ); and the failed result of an object whose scan will not be tried
again (the last receive of its message, or its message in the dead-letter queue), so that no
record stays ``queued`` or ``processing``. Shared by the detect function and the dead-letter
consumer; imports no scanner."""

from __future__ import annotations

from pathlib import PurePosixPath

from botocore.exceptions import ClientError

from deepfake_detect.aws.adapters.s3_events import ObjectRef, result_id_for
from deepfake_detect.core.errors import ErrorCode, MediaError
from deepfake_detect.core.result import DetectionResult, MediaKind, Status
from deepfake_detect.settings import Settings
from deepfake_detect.store.base import ObjectNotFoundError, ResultDeletedError, ResultStore
from deepfake_detect.store.records import failed_result


def object_source(ref: ObjectRef) -> dict[str, str]:
    """The ``source`` of an object's record: bucket, key and the revision scanned."""
    source = {"store": "s3", "bucket": ref.bucket, "key": ref.key}
    if ref.version_id:
        source["version_id"] = ref.version_id
    if ref.etag:
        source["etag"] = ref.etag
    return source


def object_record(
    ref: ObjectRef, settings: Settings, existing: DetectionResult | None, status: Status
) -> DetectionResult:
    """A record of this object that keeps what the API recorded when it handed out the upload
    (creation time, media kind, owner); a file put in the bucket outside the API belongs to
    ``aws.pipeline_owner`` (none by default)."""
    return DetectionResult(
        id=result_id_for(ref, settings.aws.upload_prefix),
        path=PurePosixPath(ref.key).name or ref.key,
        status=status,
        media_kind=existing.media_kind if existing else MediaKind.UNKNOWN,
        source=object_source(ref),
        owner=existing.owner if existing else (settings.aws.pipeline_owner or None),
        **({"created_at": existing.created_at} if existing else {}),
    )


def record_failure(
    results: ResultStore, settings: Settings, ref: ObjectRef, code: ErrorCode, message: str
) -> DetectionResult | None:
    """Store a failed result for ``ref`` unless its record already finished (done or failed) or
    was deleted; returns the failed record stored, else None."""
    existing = results.get(result_id_for(ref, settings.aws.upload_prefix))
    if existing is not None and existing.status in (Status.DONE, Status.FAILED):
        return None
    stored = failed_result(object_record(ref, settings, existing, Status.FAILED), code, message)
    try:
        results.put(stored)
    except ResultDeletedError:
        return None
    return stored


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
