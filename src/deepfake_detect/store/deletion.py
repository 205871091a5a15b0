"""Deleting a result: the record and everything of its file, in whatever stores hold them.

What goes: the upload (for an upload through the API, its whole ``uploads/<id>/`` folder), every
image derived from it (``evidence/<id>*``: the evidence image, any thumbnail), every stored version
of those (the cloud bucket is versioned), the record (and, in DynamoDB, a document that overflowed to
S3), and what the ``also`` hooks remove (a reviewer's label and its copy in the training channel).

The files are removed before and after the record: a scan still running when the record goes may
have written its evidence image in between, and its own write of the record is refused
(``ResultDeletedError``), after which the worker removes what it wrote itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from deepfake_detect.core.result import DetectionResult
from deepfake_detect.store.base import DeletableMediaStore, ResultStore
from deepfake_detect.store.keys import UPLOAD_PREFIX, derived_prefix, upload_folder

log = logging.getLogger(__name__)

# More to remove with a result, given its id (the feedback label, its training-channel copy).
DeleteHook = Callable[[str], None]


@dataclass(frozen=True)
class Tombstone:
    """What a store remembers of a deleted record for a while: whose it was (None for a record
    that had no owner) and when it went."""

    owner: str | None
    deleted_at: datetime


@runtime_checkable
class DeletionMarks(Protocol):
    """A result store that can tell a deleted id from one that never existed (the cloud's results
    table keeps a tombstone with the owner), so that the owner polling a deleted result is told
    410 ``result_deleted`` instead of 404."""

    def tombstone(self, result_id: str) -> Tombstone | None:
        """The deleted record's mark, while it is kept; None for an id that is not deleted."""
        ...


class Purgeable(Protocol):
    """What removing a result's files needs of a media store."""

    def delete(self, key: str) -> None: ...

    def delete_prefix(self, prefix: str) -> int: ...


def purge_media(media: Purgeable, record: DetectionResult, upload_prefix: str = UPLOAD_PREFIX) -> None:
    """Remove the record's files (not the record): its upload and the images derived from it."""
    key = record.source.get("key", "")
    folder = upload_folder(record.id, upload_prefix)
    if key.startswith(folder):
        media.delete_prefix(folder)
    elif key:
        media.delete(key)
    media.delete_prefix(derived_prefix(record.id))
    if record.evidence is not None and not record.evidence.key.startswith(derived_prefix(record.id)):
        media.delete(record.evidence.key)


class ResultDeleter:
    def __init__(
        self,
        media: DeletableMediaStore,
        results: ResultStore,
        *,
        also: Sequence[DeleteHook] = (),
        upload_prefix: str = UPLOAD_PREFIX,
    ) -> None:
        self.media = media
        self.results = results
        self.also = tuple(also)
        self.upload_prefix = upload_prefix

    def delete(self, record: DetectionResult) -> None:
        """Remove the record and every file of it. Safe to repeat: what is already gone is fine."""
        self.purge_media(record)
        self.results.delete(record.id)
        for hook in self.also:
            hook(record.id)
        self.purge_media(record)

    def purge_media(self, record: DetectionResult) -> None:
        purge_media(self.media, record, self.upload_prefix)


def expire(
    deleter: ResultDeleter,
    finished_before: Callable[[datetime, int], list[DetectionResult]],
    before: datetime,
) -> int:
    """Delete every finished result created before ``before`` (``finished_before(before, limit)``
    lists them, oldest first; records still queued or processing are left to their scan). Returns
    how many were deleted; one that cannot be deleted is logged, skipped and tried again next time."""
    deleted = 0
    failed: set[str] = set()
    while True:
        batch = [r for r in finished_before(before, 100 + len(failed)) if r.id not in failed]
        if not batch:
            return deleted
        for record in batch:
            try:
                deleter.delete(record)
            except Exception:
                log.exception("could not delete the expired result %s", record.id)
                failed.add(record.id)
            else:
                deleted += 1
