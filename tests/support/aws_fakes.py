"""In-memory stand-ins for S3, DynamoDB, the idempotency table and the detector (no sockets)."""

from __future__ import annotations

import builtins
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from deepfake_detect.aws.adapters.stores import ObjectInfo
from deepfake_detect.core.errors import ErrorCode
from deepfake_detect.core.pipeline import Analysis
from deepfake_detect.core.result import DetectionResult, FaceResult, MediaKind, Status, Verdict
from deepfake_detect.store.base import (
    ObjectNotFoundError,
    Page,
    Position,
    RangePage,
    ResultDeletedError,
    ResultSearch,
    owner_of,
    position_of,
)
from deepfake_detect.store.deletion import Tombstone


class InMemoryPersistence(BasePersistenceLayer):
    """The DynamoDB layer's rules (conditional put, expiry, in-progress expiry) over a dict.

    ``clock`` (seconds since the epoch) is what an "in progress" mark's expiry is checked against:
    a ``tests.support.clock.WallClock`` moved on stands for the wait until a crashed invocation's
    mark has expired (Powertools stamps the mark from the real clock)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.records: dict[str, DataRecord] = {}
        self.clock = clock

    def _get_record(self, idempotency_key: str) -> DataRecord:
        if idempotency_key not in self.records:
            raise IdempotencyItemNotFoundError
        return self.records[idempotency_key]

    def _put_record(self, data_record: DataRecord) -> None:
        old = self.records.get(data_record.idempotency_key)
        if old is not None and not old.is_expired:
            stale = (
                old.status == "INPROGRESS"
                and old.in_progress_expiry_timestamp is not None
                and old.in_progress_expiry_timestamp < self.clock() * 1000
            )
            if not stale:
                raise IdempotencyItemAlreadyExistsError(old_data_record=old)
        self.records[data_record.idempotency_key] = data_record

    def _update_record(self, data_record: DataRecord) -> None:
        self.records[data_record.idempotency_key] = data_record

    def _delete_record(self, data_record: DataRecord) -> None:
        self.records.pop(data_record.idempotency_key, None)


class InMemoryResults:
    """The result store's rules over a dict: owners, and deleted ids that refuse later writes."""

    def __init__(self) -> None:
        self.items: dict[str, DetectionResult] = {}
        self.writes: Counter[str] = Counter()
        self.deleted: set[str] = set()
        self.tombstones: dict[str, Tombstone] = {}  # the cloud's tombstones keep the owner

    def put(self, result: DetectionResult) -> None:
        if result.id in self.deleted:
            raise ResultDeletedError(result.id)
        self.items[result.id] = result.model_copy(deep=True)
        self.writes[result.id] += 1

    def get(self, result_id: str) -> DetectionResult | None:
        item = self.items.get(result_id)
        return item.model_copy(deep=True) if item else None

    def list(
        self,
        limit: int = 20,
        token: str | None = None,
        *,
        owner: str | None = None,
        search: ResultSearch | None = None,
    ) -> Page:
        items = sorted(self.items.values(), key=position_of, reverse=True)
        items = [
            r
            for r in items
            if (owner is None or owner_of(r) == owner) and (search is None or search.matches(r))
        ]
        start = int(token) if token else 0
        page = items[start : start + limit]
        more = len(items) > start + limit
        return Page(
            items=[r.model_copy(deep=True) for r in page], next_token=str(start + limit) if more else None
        )

    def same_file(self, owner: str, sha256: str, *, limit: int = 1000) -> builtins.list[Position]:
        found = [r for r in self.items.values() if owner_of(r) == owner and r.source.get("sha256") == sha256]
        return sorted((position_of(r) for r in found), reverse=True)[:limit]

    def between(
        self,
        since: datetime,
        until: datetime,
        *,
        owner: str | None = None,
        limit: int = 100,
        after: Position | None = None,
    ) -> RangePage:
        items = sorted(
            (
                r
                for r in self.items.values()
                if since <= r.created_at < until and (owner is None or owner_of(r) == owner)
            ),
            key=position_of,
        )
        if after is not None:
            items = [r for r in items if position_of(r) > after]
        page = [r.model_copy(deep=True) for r in items[:limit]]
        return RangePage(items=page, last=position_of(page[-1]) if len(items) > limit else None)

    def delete(self, result_id: str) -> None:
        gone = self.items.pop(result_id, None)
        if result_id not in self.deleted:
            self.tombstones[result_id] = Tombstone(gone.owner if gone else None, datetime.now(UTC))
        self.deleted.add(result_id)

    def tombstone(self, result_id: str) -> Tombstone | None:
        return self.tombstones.get(result_id)

    def pending(self) -> Iterator[DetectionResult]:
        yield from (r for r in self.items.values() if r.status in (Status.QUEUED, Status.PROCESSING))


class FakeMedia:
    """Objects by key; a key in ``failures`` raises that error when read (a throttled S3)."""

    def __init__(self, tmp_dir: Path) -> None:
        self.objects: dict[str, bytes] = {}
        self.tmp_dir = tmp_dir
        self.failures: dict[str, Exception] = {}
        self.downloads: list[str] = []

    def head(self, key: str, version_id: str | None = None) -> ObjectInfo:
        if key in self.failures:
            raise self.failures[key]
        if key not in self.objects:
            raise ObjectNotFoundError(key)
        return ObjectInfo(size=len(self.objects[key]), etag="etag", version_id=version_id, content_type=None)

    @contextmanager
    def local_copy(self, key: str, version_id: str | None = None) -> Iterator[Path]:
        if key in self.failures:
            raise self.failures[key]
        if key not in self.objects:
            raise ObjectNotFoundError(key)
        self.downloads.append(key)
        with tempfile.NamedTemporaryFile(dir=self.tmp_dir) as handle:
            handle.write(self.objects[key])
            handle.flush()
            yield Path(handle.name)

    def put(self, key: str, data: Any, content_type: str | None = None) -> None:
        self.objects[key] = data if isinstance(data, bytes) else data.read()

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    def delete_prefix(self, prefix: str) -> int:
        doomed = [key for key in self.objects if key.startswith(prefix)]
        for key in doomed:
            del self.objects[key]
        return len(doomed)


class StubDetector:
    """Files whose bytes start with ``bad`` are corrupt; anything else has one real face."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def analyze(
        self, path: Any, *, display_path: str | None = None, progress: Any = None, pictures: bool = False
    ) -> Analysis:
        name = display_path or str(path)
        self.calls.append(name)
        if Path(path).read_bytes().startswith(b"bad"):
            return Analysis(DetectionResult.failed(name, ErrorCode.CORRUPT_MEDIA, "the image is damaged"))
        face = FaceResult(box=(1, 1, 8, 8), landmarks=[(2, 2)] * 5, detector_score=0.9, score=0.1)
        result = DetectionResult(
            path=name,
            media_kind=MediaKind.IMAGE,
            status=Status.DONE,
            verdict=Verdict.REAL,
            score=0.1,
            faces=[face],
            timings_ms={"decode": 1.0, "detect": 2.0, "total": 4.0},
        )
        return Analysis(result, np.zeros((16, 16, 3), dtype=np.uint8))
