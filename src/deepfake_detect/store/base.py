"""The ports: a media store (file bytes) and a result store (result records).

The API and the workers talk only to these; the local service plugs in a folder and SQLite,
the cloud S3 and DynamoDB.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from deepfake_detect.core.result import DetectionResult

# The owner of everything the local service holds (no sign-in there), and of records stored
# before results had owners. A cloud owner is the signed-in user's id (the JWT's ``sub``).
LOCAL_OWNER = "local"


def owner_of(result: DetectionResult) -> str:
    """Whom a record belongs to: its owner, or the local owner for a record without one."""
    return result.owner or LOCAL_OWNER


class ObjectNotFoundError(KeyError):
    """The media store holds no object under this key (it never existed or was deleted).

    A ``KeyError`` for the callers that catch that, but raised only by the stores for a missing
    object: a ``KeyError`` from anywhere else is a bug, not a deleted file."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class ResultDeletedError(Exception):
    """The record was deleted: it is not written again (a scan still running when its result was
    deleted must not bring the record back)."""

    def __init__(self, result_id: str) -> None:
        super().__init__(f"result {result_id} was deleted")
        self.result_id = result_id


@dataclass(frozen=True)
class Page:
    items: list[DetectionResult]
    next_token: str | None


# A record's place in time order: its ``created_at`` and, between equal times, its id.
Position = tuple[datetime, str]


def position_of(result: DetectionResult) -> Position:
    return result.created_at, result.id


@dataclass(frozen=True)
class RangePage:
    """A page of ``ResultStore.between``: the records, oldest first, and where the next page starts
    (after ``last``; None when the range holds nothing more)."""

    items: list[DetectionResult]
    last: Position | None


class MediaStore(Protocol):
    def put(self, key: str, data: BinaryIO | bytes, content_type: str | None = None) -> None: ...

    def get(self, key: str) -> bytes:
        """The object's bytes; raises ``ObjectNotFoundError`` (a ``KeyError``) when it does not exist."""
        ...

    def local_copy(self, key: str) -> AbstractContextManager[Path]:
        """A path on local disk holding the object, for decoders that need a file."""
        ...

    def exists(self, key: str) -> bool: ...


@runtime_checkable
class DeletableMediaStore(MediaStore, Protocol):
    def delete(self, key: str) -> None:
        """Remove the object and every stored version of it; a missing one is fine."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Remove every object (and version) whose key starts with ``prefix``; returns how many keys."""
        ...


class ResultStore(Protocol):
    def put(self, result: DetectionResult) -> None:
        """Insert or replace the record with this id; ``ResultDeletedError`` if it was deleted."""
        ...

    def get(self, result_id: str) -> DetectionResult | None: ...

    def list(self, limit: int = 20, token: str | None = None, *, owner: str | None = None) -> Page:
        """Newest first, only ``owner``'s records when given; ``token`` is the opaque
        ``next_token`` of the previous page."""
        ...

    def between(
        self,
        since: datetime,
        until: datetime,
        *,
        owner: str | None = None,
        limit: int = 100,
        after: Position | None = None,
    ) -> RangePage:
        """Records created in ``[since, until)``, oldest first, at most ``limit``, only ``owner``'s
        when given (the cloud store needs one), starting after ``after`` (a page's ``last``)."""
        ...

    def delete(self, result_id: str) -> None:
        """Remove the record; for a while after, a ``put`` of it raises ``ResultDeletedError``."""
        ...

    def pending(self) -> Iterator[DetectionResult]:
        """Records still queued or processing (to resume after a restart)."""
        ...


class IdempotentResults(Protocol):
    """Results stored under a client's ``Idempotency-Key`` (per owner), so that a retried upload is
    answered with the first one's result instead of being scanned again. A key lives as long as
    its result: deleting the result frees the key."""

    def find_idempotent(self, owner: str, key: str) -> DetectionResult | None:
        """The result first stored under ``owner``'s ``key``, if it still exists."""
        ...

    def put_idempotent(self, record: DetectionResult, key: str) -> DetectionResult | None:
        """Store the new ``record`` under its owner's ``key`` in one step, unless the key already
        holds a result: then nothing is stored and that result is returned."""
        ...
