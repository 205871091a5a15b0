"""S3 event notifications as they arrive in SQS message bodies, reduced to the objects to scan.

S3 URL-encodes keys in notifications (a space arrives as ``+``), sends an ``s3:TestEvent`` when
the notification is first configured, and may put several records in one message.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event

# Fixed namespace: the same object revision maps to the same result id in every deployment.
_RESULT_NAMESPACE = uuid.UUID("5f0c8d7e-3b1a-4c55-9d0e-2a7f4e6b9c13")
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")


class MalformedEventError(ValueError):
    """A message that is not an S3 notification: it cannot be scanned, so it goes to the DLQ."""


@dataclass(frozen=True)
class ObjectRef:
    """One object revision to scan."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str = ""
    size: int | None = None
    event_time: str = ""

    @property
    def revision(self) -> str:
        """The version id on a versioned bucket, else the ETag: a new upload under the same key is
        a new revision, a redelivered notification is not."""
        return self.version_id or self.etag.strip('"')

    def payload(self) -> dict[str, str]:
        """What idempotency hashes and what the worker needs to rebuild this reference."""
        return {
            "bucket": self.bucket,
            "key": self.key,
            "revision": self.revision,
            "version_id": self.version_id or "",
            "etag": self.etag,
            "size": "" if self.size is None else str(self.size),
            "event_time": self.event_time,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, str]) -> ObjectRef:
        size = payload.get("size", "")
        return cls(
            bucket=payload["bucket"],
            key=payload["key"],
            version_id=payload.get("version_id") or None,
            etag=payload.get("etag", ""),
            size=int(size) if size else None,
            event_time=payload.get("event_time", ""),
        )


def result_id_for(ref: ObjectRef, upload_prefix: str) -> str:
    """The result id of an object revision, the same on every delivery of its notification.

    Keys handed out by ``POST /v1/uploads`` look like ``uploads/<result id>/<name>``: their id is
    the one the client was given to poll. Any other key gets a name-based UUID of the revision.
    """
    if ref.key.startswith(upload_prefix):
        first = ref.key[len(upload_prefix) :].split("/", 1)[0]
        if _UPLOAD_ID.fullmatch(first) and "/" in ref.key[len(upload_prefix) :]:
            return first
    return uuid.uuid5(_RESULT_NAMESPACE, f"s3://{ref.bucket}/{ref.key}?{ref.revision}").hex


def parse_sqs_body(body: str) -> list[ObjectRef]:
    """The created objects named by one SQS message body; an empty list for ``s3:TestEvent``."""
    try:
        document: Any = json.loads(body)
    except (TypeError, ValueError) as exc:
        raise MalformedEventError(f"the message body is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise MalformedEventError("the message body is not a JSON object")
    if document.get("Event") == "s3:TestEvent":
        return []
    if not isinstance(document.get("Records"), list):
        raise MalformedEventError("the message body has no S3 'Records'")
    refs = []
    try:
        for record in S3Event(document).records:
            if record.event_source != "aws:s3" or not record.event_name.startswith("ObjectCreated:"):
                continue  # only new objects are scanned; the notification asks for nothing else
            obj = record.s3.get_object
            size = obj.get("size")
            refs.append(
                ObjectRef(
                    bucket=record.s3.bucket.name,
                    key=unquote_plus(obj.key),
                    version_id=obj.version_id or None,
                    etag=obj.etag,
                    size=None if size is None else int(size),
                    event_time=record.event_time,
                )
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedEventError(f"the S3 record is incomplete: {exc!r}") from exc
    return refs
