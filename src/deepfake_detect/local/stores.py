"""The embedded stores: media in a folder, results in SQLite. Nothing to install or run."""

from __future__ import annotations

import base64
import builtins
import json
import os
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from deepfake_detect.core.result import DetectionResult, Status
from deepfake_detect.local.sqlite import open_sqlite
from deepfake_detect.store.base import (
    LOCAL_OWNER,
    SAME_FILE_LIMIT,
    ObjectNotFoundError,
    Page,
    Position,
    RangePage,
    ResultDeletedError,
    ResultSearch,
    position_of,
)


class LocalMediaStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        # Called between listing a prefix's entries and removing each one: a seam for the tests of
        # concurrent deletions (a barrier there makes two deletions meet); does nothing.
        self.between: Callable[[Path], object] = lambda entry: None

    def _path(self, key: str) -> Path:
        root = self.root.resolve()
        path = (root / key).resolve()
        if path == root or not path.is_relative_to(root):
            raise ValueError(f"key escapes the media folder: {key!r}")
        return path

    def put(self, key: str, data: BinaryIO | bytes, content_type: str | None = None) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        try:
            with partial.open("wb") as out:
                if isinstance(data, bytes):
                    out.write(data)
                else:
                    shutil.copyfileobj(data, out, 1 << 20)
            partial.replace(path)  # readers never see a half-written file
        except BaseException:  # a full disk mid-copy: the half-written copy does not stay behind
            try:
                partial.unlink(missing_ok=True)
                self._prune(path.parent)
            except OSError:
                pass
            raise

    def get(self, key: str) -> bytes:
        path = self._path(key)
        if not path.is_file():
            raise ObjectNotFoundError(key)
        return path.read_bytes()

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        path = self._path(key)
        if not path.is_file():
            raise ObjectNotFoundError(key)
        yield path

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        """Remove the object (and its partial copy, and its folder once empty); a missing one is fine."""
        path = self._path(key)
        for doomed in (path, path.with_name(path.name + ".partial")):
            doomed.unlink(missing_ok=True)
        self._prune(path.parent)

    def delete_prefix(self, prefix: str) -> int:
        """Remove every file whose key starts with ``prefix`` (``"uploads/<id>/"``: the folder;
        ``"evidence/<id>"``: every file and folder there whose name starts so). Returns the count.

        Safe to run at the same time as another deletion of the same prefix (two DELETEs of one
        result): whatever the other removed first is skipped, never an error."""
        folder_key, _, start = prefix.rpartition("/")
        root = self.root.resolve()
        folder = self._path(folder_key) if folder_key else root
        try:
            entries = [entry for entry in folder.iterdir() if entry.name.startswith(start)]
        except (FileNotFoundError, NotADirectoryError):
            return 0
        removed = 0
        for entry in entries:
            self.between(entry)
            if entry.is_dir() and not entry.is_symlink():
                removed += _count_files(entry)
                shutil.rmtree(entry, onerror=_gone_is_fine)
            else:
                if entry.exists():
                    removed += not entry.name.endswith(".partial")
                entry.unlink(missing_ok=True)
        self._prune(folder)
        return removed

    def _prune(self, folder: Path) -> None:
        """Remove ``folder`` and its parents while they are empty (never the root)."""
        root = self.root.resolve()
        while folder != root and folder.is_relative_to(root):
            try:
                folder.rmdir()  # only when empty
            except OSError:
                break
            folder = folder.parent


def _count_files(folder: Path) -> int:
    """The files under ``folder``; what another deletion removes meanwhile is not counted."""
    count = 0
    for _parent, _folders, files in os.walk(folder):  # os.walk skips what vanishes under it
        count += len(files)
    return count


def _gone_is_fine(function: object, path: str, exc_info: tuple[Any, BaseException, Any]) -> None:
    """``shutil.rmtree``'s error handler: a file or folder another deletion removed first is fine."""
    if not isinstance(exc_info[1], FileNotFoundError):
        raise exc_info[1]


class SQLiteResultStore:
    """Results as JSON documents, with the columns we sort and filter on pulled out.

    ``owner`` is a column (records stored before it existed belong to the local owner); so is
    ``sha256``, the scanned file's (``source["sha256"]``), indexed per owner to find the results of
    the same file (filled in from the documents when an older file first opens). A deleted record
    leaves its id in ``deleted`` for a while, so a scan still running cannot write it back.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = open_sqlite(path)
        self._db.execute(
            """CREATE TABLE IF NOT EXISTS results (
                id TEXT PRIMARY KEY,
                created_at TEXT NOT NULL,
                status TEXT NOT NULL,
                document TEXT NOT NULL)"""
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS results_newest ON results (created_at DESC, id DESC)")
        self._add_owner_column()
        self._db.execute(
            "CREATE INDEX IF NOT EXISTS results_owner_newest ON results (owner, created_at DESC, id DESC)"
        )
        self._add_sha256_column()
        self._db.execute(
            "CREATE INDEX IF NOT EXISTS results_same_file "
            "ON results (owner, sha256, created_at DESC, id DESC) WHERE sha256 IS NOT NULL"
        )
        # GET /v1/results?q=: a case-insensitive substring of the name, Unicode included (SQLite's
        # own lower() and LIKE fold ASCII only).
        self._db.create_function("casefold", 1, _casefold, deterministic=True)
        self._db.execute("CREATE TABLE IF NOT EXISTS deleted (id TEXT PRIMARY KEY, deleted_at TEXT NOT NULL)")
        # How often each unfinished scan was started: a file that kills the process mid-scan is
        # resumed on every start, and this is how the worker knows to stop trying.
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS attempts (id TEXT PRIMARY KEY, started INTEGER NOT NULL)"
        )
        # Idempotency-Key of an upload (per owner) -> its result; removed with the result.
        self._db.execute(
            """CREATE TABLE IF NOT EXISTS idempotency (
                owner TEXT NOT NULL,
                key TEXT NOT NULL,
                result_id TEXT NOT NULL,
                created_at TEXT NOT NULL,
                PRIMARY KEY (owner, key))"""
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS idempotency_result ON idempotency (result_id)")

    def _add_owner_column(self) -> None:
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(results)")}
        if "owner" in columns:
            return
        try:
            self._db.execute(f"ALTER TABLE results ADD COLUMN owner TEXT NOT NULL DEFAULT '{LOCAL_OWNER}'")
        except sqlite3.OperationalError as exc:  # another process added it first
            if "duplicate column" not in str(exc):
                raise

    def _add_sha256_column(self) -> None:
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(results)")}
        if "sha256" in columns:
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("ALTER TABLE results ADD COLUMN sha256 TEXT")
            # Records stored before the column: their documents say which file they scanned.
            self._db.execute("UPDATE results SET sha256 = json_extract(document, '$.source.sha256')")
            self._db.execute("COMMIT")
        except sqlite3.OperationalError as exc:  # another process added it first
            self._rollback()
            if "duplicate column" not in str(exc):
                raise

    def put(self, result: DetectionResult) -> None:
        # One statement: the check for a deletion and the write cannot be split by another process
        # (`deepfake-detect delete` while the service scans).
        with self._lock:
            written = self._db.execute(
                "INSERT OR REPLACE INTO results (id, created_at, status, document, owner, sha256) "
                "SELECT ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM deleted WHERE id = ?)",
                (
                    result.id,
                    _sort_key(result.created_at),
                    result.status.value,
                    result.model_dump_json(),
                    result.owner or LOCAL_OWNER,
                    result.source.get("sha256") or None,
                    result.id,
                ),
            ).rowcount
        if not written:
            raise ResultDeletedError(result.id)

    def find_idempotent(self, owner: str, key: str) -> DetectionResult | None:
        with self._lock:
            return self._find_idempotent(owner, key)

    def _find_idempotent(self, owner: str, key: str) -> DetectionResult | None:
        row = self._db.execute(
            "SELECT r.document FROM idempotency i JOIN results r ON r.id = i.result_id "
            "WHERE i.owner = ? AND i.key = ?",
            (owner, key),
        ).fetchone()
        return DetectionResult.model_validate_json(row[0]) if row else None

    def put_idempotent(self, record: DetectionResult, key: str) -> DetectionResult | None:
        owner = record.owner or LOCAL_OWNER
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                holder = self._find_idempotent(owner, key)
                if holder is None:
                    self._db.execute("DELETE FROM idempotency WHERE owner = ? AND key = ?", (owner, key))
                    self._db.execute(
                        "INSERT INTO results (id, created_at, status, document, owner, sha256) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (
                            record.id,
                            _sort_key(record.created_at),
                            record.status.value,
                            record.model_dump_json(),
                            owner,
                            record.source.get("sha256") or None,
                        ),
                    )
                    self._db.execute(
                        "INSERT INTO idempotency (owner, key, result_id, created_at) VALUES (?, ?, ?, ?)",
                        (owner, key, record.id, _sort_key(datetime.now(UTC))),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        return holder

    def get(self, result_id: str) -> DetectionResult | None:
        with self._lock:
            row = self._db.execute("SELECT document FROM results WHERE id = ?", (result_id,)).fetchone()
        return DetectionResult.model_validate_json(row[0]) if row else None

    def list(
        self,
        limit: int = 20,
        token: str | None = None,
        *,
        owner: str | None = None,
        search: ResultSearch | None = None,
    ) -> Page:
        """A page of the list; ``search`` is applied in the query, so every page but the last is full."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        query = "SELECT document, created_at, id FROM results"
        conditions: list[str] = []
        params: tuple[object, ...] = ()
        if owner is not None:
            conditions.append("owner = ?")
            params += (owner,)
        if search is not None:
            if search.text:
                conditions.append("instr(casefold(json_extract(document, '$.path')), ?) > 0")
                params += (search.needle,)
            if search.verdict is not None:
                conditions.append("json_extract(document, '$.verdict') = ?")
                params += (search.verdict.value,)
            if search.since is not None:
                conditions.append("created_at >= ?")
                params += (_sort_key(search.since),)
            if search.until is not None:
                conditions.append("created_at < ?")
                params += (_sort_key(search.until),)
        if token:
            created_at, last_id = _decode_token(token)
            conditions.append("(created_at, id) < (?, ?)")
            params += (created_at, last_id)
        if conditions:
            query += " WHERE " + " AND ".join(conditions)
        query += " ORDER BY created_at DESC, id DESC LIMIT ?"
        with self._lock:
            rows = self._db.execute(query, (*params, limit + 1)).fetchall()
        items = [DetectionResult.model_validate_json(r[0]) for r in rows[:limit]]
        next_token = _encode_token(rows[limit - 1][1], rows[limit - 1][2]) if len(rows) > limit else None
        return Page(items=items, next_token=next_token)

    def same_file(self, owner: str, sha256: str, *, limit: int = SAME_FILE_LIMIT) -> builtins.list[Position]:
        """Newest first, from the ``(owner, sha256)`` index."""
        with self._lock:
            rows = self._db.execute(
                "SELECT created_at, id FROM results WHERE owner = ? AND sha256 = ? "
                "ORDER BY created_at DESC, id DESC LIMIT ?",
                (owner, sha256, limit),
            ).fetchall()
        return [(datetime.fromisoformat(created_at), result_id) for created_at, result_id in rows]

    def between(
        self,
        since: datetime,
        until: datetime,
        *,
        owner: str | None = None,
        limit: int = 100,
        after: Position | None = None,
    ) -> RangePage:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        query = "SELECT document FROM results WHERE created_at >= ? AND created_at < ?"
        params: tuple[object, ...] = (_sort_key(since), _sort_key(until))
        if owner is not None:
            query += " AND owner = ?"
            params += (owner,)
        if after is not None:
            query += " AND (created_at, id) > (?, ?)"
            params += (_sort_key(after[0]), after[1])
        query += " ORDER BY created_at, id LIMIT ?"
        with self._lock:
            rows = self._db.execute(query, (*params, limit + 1)).fetchall()
        items = [DetectionResult.model_validate_json(row[0]) for row in rows[:limit]]
        return RangePage(items=items, last=position_of(items[-1]) if len(rows) > limit else None)

    def delete(self, result_id: str) -> None:
        """Remove the record, its attempt count and its idempotency keys; its id is kept in
        ``deleted`` (see ``put``)."""
        now = _sort_key(datetime.now(UTC))
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM results WHERE id = ?", (result_id,))
                self._db.execute("DELETE FROM attempts WHERE id = ?", (result_id,))
                self._db.execute("DELETE FROM idempotency WHERE result_id = ?", (result_id,))
                self._db.execute(
                    "INSERT OR REPLACE INTO deleted (id, deleted_at) VALUES (?, ?)", (result_id, now)
                )
                self._db.execute("COMMIT")  # a full disk can fail the commit: rolled back below
            except BaseException:
                self._rollback()
                raise

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def finished_before(self, before: datetime, limit: int = 100) -> builtins.list[DetectionResult]:
        """Done or failed records created before ``before``, oldest first (what retention deletes)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT document FROM results WHERE created_at < ? AND status IN (?, ?) "
                "ORDER BY created_at, id LIMIT ?",
                (_sort_key(before), Status.DONE.value, Status.FAILED.value, limit),
            ).fetchall()
        return [DetectionResult.model_validate_json(row[0]) for row in rows]

    def forget_deleted(self, before: datetime) -> int:
        """Drop the marks of records deleted before ``before`` (no scan of them can still run),
        and the attempt counts left by scans that finished but were stopped before clearing theirs."""
        with self._lock:
            self._db.execute(
                "DELETE FROM attempts WHERE id NOT IN (SELECT id FROM results WHERE status IN (?, ?))",
                (Status.QUEUED.value, Status.PROCESSING.value),
            )
            return int(
                self._db.execute("DELETE FROM deleted WHERE deleted_at < ?", (_sort_key(before),)).rowcount
            )

    def begin_attempt(self, result_id: str) -> int:
        """Count one more start of this record's scan; returns the count, this one included."""
        with self._lock:
            row = self._db.execute(
                "INSERT INTO attempts (id, started) VALUES (?, 1) "
                "ON CONFLICT (id) DO UPDATE SET started = started + 1 RETURNING started",
                (result_id,),
            ).fetchone()
        return int(row[0])

    def end_attempts(self, result_id: str) -> None:
        """The scan finished (done or failed): forget its count."""
        with self._lock:
            self._db.execute("DELETE FROM attempts WHERE id = ?", (result_id,))

    def pending(self) -> Iterator[DetectionResult]:
        with self._lock:
            rows = self._db.execute(
                "SELECT document FROM results WHERE status IN (?, ?) ORDER BY created_at",
                (Status.QUEUED.value, Status.PROCESSING.value),
            ).fetchall()
        for row in rows:
            yield DetectionResult.model_validate_json(row[0])

    def close(self) -> None:
        self._db.close()


def _casefold(text: object) -> str | None:
    return text.casefold() if isinstance(text, str) else None


def _sort_key(created_at: datetime) -> str:
    """Fixed-width UTC ISO text, so that text order is time order (isoformat() drops zero
    microseconds and keeps the offset it was given, which breaks that)."""
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=UTC)
    return created_at.astimezone(UTC).isoformat(timespec="microseconds")


def _encode_token(created_at: str, result_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([created_at, result_id]).encode()).decode()


def _decode_token(token: str) -> tuple[str, str]:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError, RecursionError) as exc:  # RecursionError: "[[[[...]]]]"
        raise ValueError("invalid page token") from exc
    if not (isinstance(decoded, list) and len(decoded) == 2 and all(isinstance(v, str) for v in decoded)):
        raise ValueError("invalid page token")
    return decoded[0], decoded[1]
