"""A failed result for an object whose scan will not be tried again (the last receive of its
message, or its message in the dead-letter queue), so that no record stays ``queued`` or
``processing``. Shared by the detect function and the dead-letter consumer; imports no scanner."""

from __future__ import annotations

from pathlib import PurePosixPath

from deepfake_detect.aws.events import ObjectRef, result_id_for
from deepfake_detect.core.errors import ErrorCode
from deepfake_detect.core.result import DetectionResult, MediaKind, Status
from deepfake_detect.settings import Settings
from deepfake_detect.store.base import ResultDeletedError, ResultStore
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
