"""Where a result's files live in a media store, in one place (no imaging libraries here: the cloud
API deletes results without OpenCV).

- the upload: ``uploads/<result id>/<name>`` (the API's uploads; a file dropped in the bucket by a
  pipeline keeps its own key, named by the record's ``source``);
- every image derived from it, under ``evidence/<result id>``: the evidence image
  (``evidence/<id>.jpg``), a video's frame thumbnails (``evidence/<id>/frames/<frame index>.jpg``)
  and the faces' aligned crops (``evidence/<id>/faces/<track>.jpg``).
"""

from __future__ import annotations

UPLOAD_PREFIX = "uploads/"
EVIDENCE_PREFIX = "evidence/"


def evidence_key(result_id: str) -> str:
    return f"{EVIDENCE_PREFIX}{result_id}.jpg"


def frame_key(result_id: str, frame_index: int) -> str:
    return f"{EVIDENCE_PREFIX}{result_id}/frames/{frame_index}.jpg"


def face_key(result_id: str, track: int) -> str:
    return f"{EVIDENCE_PREFIX}{result_id}/faces/{track}.jpg"


def derived_prefix(result_id: str) -> str:
    """The prefix of every image derived from the upload (result ids have a fixed length, so no
    other result's keys share it)."""
    return f"{EVIDENCE_PREFIX}{result_id}"


def upload_folder(result_id: str, upload_prefix: str = UPLOAD_PREFIX) -> str:
    """The folder an upload through the API lands in (nothing else is ever put there)."""
    return f"{upload_prefix}{result_id}/"
