"""The ports: a media store (file bytes) and a result store (result records).

The API and the workers talk only to these; the local service plugs in a folder and SQLite,
the cloud S3 and DynamoDB.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from deepfake_detect.core.result import DetectionResult, Verdict

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


# How many records of one file ``ResultStore.same_file`` reads at most.
SAME_FILE_LIMIT = 1000

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


@dataclass(frozen=True)
class ResultSearch:
    """What ``ResultStore.list`` keeps of the records it would list (``GET /v1/results``'s ``q``,
    ``verdict``, ``since`` and ``until``); an empty search keeps everything."""

    text: str | None = None  # a case-insensitive substring of the file name (``path``)
    verdict: Verdict | None = None
    since: datetime | None = None  # created at or after (timezone-aware)
    until: datetime | None = None  # created before (timezone-aware)

    def __bool__(self) -> bool:
        return bool(self.text) or self.verdict is not None or self.since is not None or self.until is not None

    @property
    def needle(self) -> str:
        """The search text as it is compared: case-folded (so "É" finds "é")."""
        return (self.text or "").casefold()

    def matches(self, result: DetectionResult) -> bool:
        """The one definition of a match (the stores that filter in Python use it)."""
        if self.text and self.needle not in (result.path or "").casefold():
            return False
        if self.verdict is not None and result.verdict is not self.verdict:
            return False
        created = result.created_at if result.created_at.tzinfo else result.created_at.replace(tzinfo=UTC)
        if self.since is not None and created < self.since:
            return False
        return self.until is None or created < self.until


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

    def list(
        self,
        limit: int = 20,
        token: str | None = None,
        *,
        owner: str | None = None,
        search: ResultSearch | None = None,
    ) -> Page:
        """Newest first, only ``owner``'s records when given, only those ``search`` matches when
        given; ``token`` is the opaque ``next_token`` of the previous page (of the same search).
        A store that filters after reading a page may return fewer than ``limit`` items, even
        none, with a ``next_token``: the end of the list is ``next_token`` None, not a short page."""
        ...

    def same_file(self, owner: str, sha256: str, *, limit: int = SAME_FILE_LIMIT) -> builtins.list[Position]:
        """Where ``owner``'s records of the file with this SHA-256 (``source["sha256"]``) stand in
        time, newest first, at most ``limit``: every record of the same bytes, whatever its name
        or status (a record asked about included). Deleted records are not among them."""
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
