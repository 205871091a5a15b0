"""Where a result's files live in a media store, in one place (no imaging libraries here: the cloud
API deletes results without OpenCV).

- the upload: ``uploads/<result id>/<name>`` (the API's uploads; a file dropped in the bucket by a
  pipeline keeps its own key, named by the record's ``source``);
- every image derived from it (the evidence image, any thumbnail): under ``evidence/<result id>``.
"""

from __future__ import annotations

from deepfake_detect.core.result import DetectionResult

UPLOAD_PREFIX = "uploads/"
EVIDENCE_PREFIX = "evidence/"


def evidence_key(result_id: str) -> str:
    return f"{EVIDENCE_PREFIX}{result_id}.jpg"


def derived_prefix(result_id: str) -> str:
    """The prefix of every image derived from the upload (result ids have a fixed length, so no
    other result's keys share it)."""
    return f"{EVIDENCE_PREFIX}{result_id}"


def upload_folder(result_id: str, upload_prefix: str = UPLOAD_PREFIX) -> str:
    """The folder an upload through the API lands in (nothing else is ever put there)."""
    return f"{upload_prefix}{result_id}/"


def media_keys(record: DetectionResult) -> list[str]:
    """Exact keys of the record's own files: its upload and its evidence image."""
    keys = [record.source.get("key", ""), evidence_key(record.id)]
    if record.evidence is not None:
        keys.append(record.evidence.key)
    return list(dict.fromkeys(k for k in keys if k))
