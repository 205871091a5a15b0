"""The ports: a media store (file bytes) and a result store (result records).

The API and the workers talk only to these; the local service plugs in a folder and SQLite,
the cloud S3 and DynamoDB.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from deepfake_detect.core.result import DetectionResult


@dataclass(frozen=True)
class Page:
    items: list[DetectionResult]
    next_token: str | None


class MediaStore(Protocol):
    def put(self, key: str, data: BinaryIO | bytes, content_type: str | None = None) -> None: ...

    def get(self, key: str) -> bytes:
        """The object's bytes; raises ``KeyError`` when it does not exist."""
        ...

    def local_copy(self, key: str) -> AbstractContextManager[Path]:
        """A path on local disk holding the object, for decoders that need a file."""
        ...

    def exists(self, key: str) -> bool: ...


class ResultStore(Protocol):
    def put(self, result: DetectionResult) -> None:
        """Insert or replace the record with this id."""
        ...

    def get(self, result_id: str) -> DetectionResult | None: ...

    def list(self, limit: int = 20, token: str | None = None) -> Page:
        """Newest first; ``token`` is the opaque ``next_token`` of the previous page."""
        ...

    def pending(self) -> Iterator[DetectionResult]:
        """Records still queued or processing (to resume after a restart)."""
        ...
