"""A queued record's outcome: the result that replaces it keeps who and what it is.

Every worker (the local worker, the detect function, the dead-letter consumer) stores its outcome
through these, so a finished or failed result always keeps the record's id, creation time, source
and owner. Imports no scanner: the dead-letter consumer runs without OpenCV or ONNX Runtime.
"""

from __future__ import annotations

from deepfake_detect.core.errors import ErrorCode, public_message
from deepfake_detect.core.result import DetectionResult


def adopt(record: DetectionResult, result: DetectionResult) -> DetectionResult:
    """``result`` as the outcome of ``record``: its id, creation time, source (a copy) and owner."""
    result.id, result.created_at, result.source = record.id, record.created_at, dict(record.source)
    result.owner = record.owner
    return result


def failed_result(record: DetectionResult, code: ErrorCode, message: str) -> DetectionResult:
    """The failed result of ``record`` (its name and media kind kept), with a message a client may
    see (``public_message``: file names, never the folders they are in)."""
    failed = DetectionResult.failed(record.path, code, public_message(message), media_kind=record.media_kind)
    return adopt(record, failed)
