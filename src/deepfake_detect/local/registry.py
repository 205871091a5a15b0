"""The local registry: ``<registry>/models/<version>/`` folders, records in SQLite, and
``current.json`` naming the served version (replaced atomically, so a reader never sees half a
pointer). Nothing to install or run.

The pointer file is the authoritative pointer (there is no served copy to repair): a conditional
update reads, compares and replaces it while holding an exclusive ``flock`` on
``<registry>/.pointer.lock``, so two processes (a retrain and a rollback) cannot both move it.
Gate reports are written next to the candidate, in ``<registry>/jobs/<version>/``."""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import ValidationError

from deepfake_detect.core.hashing import file_sha256
from deepfake_detect.local.sqlite import open_sqlite
from deepfake_detect.registry.base import ModelPointer, ModelRecord, PointerConflictError, RegistryError

POINTER_FILE = "current.json"
LOCK_FILE = ".pointer.lock"
REPORT_FILE = "gate-report.json"


class LocalModelRegistry:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None

    @property
    def _db(self) -> sqlite3.Connection:
        # Opened on first use: a reader of the pointer alone (a scan) creates nothing on disk.
        if self._connection is None:
            db = open_sqlite(self.root / "records.sqlite3")
            db.execute(
                "CREATE TABLE IF NOT EXISTS models (version TEXT PRIMARY KEY, "
                "created_at TEXT NOT NULL, document TEXT NOT NULL)"
            )
            self._connection = db
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # ---------------------------------------------------------------- pointer
    @property
    def pointer_path(self) -> Path:
        return self.root / POINTER_FILE

    def current(self) -> ModelPointer | None:
        try:
            return ModelPointer.model_validate_json(self.pointer_path.read_text())
        except FileNotFoundError:
            return None
        except ValidationError as exc:
            raise RegistryError(f"{self.pointer_path} is not a model pointer: {exc}") from exc

    @contextmanager
    def _pointer_lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / LOCK_FILE).open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def set_current(self, pointer: ModelPointer, *, expected: str | None) -> None:
        if not self._path(pointer.onnx_key).is_file():
            raise RegistryError(f"version {pointer.version} is not published in {self.root}")
        with self._pointer_lock():
            found = self.current()
            actual = found.version if found else None
            if actual != expected:
                raise PointerConflictError(expected, actual)
            partial = self.pointer_path.with_suffix(f".{os.getpid()}.partial")
            partial.write_text(pointer.model_dump_json(indent=2) + "\n")
            os.replace(partial, self.pointer_path)

    def repair(self) -> ModelPointer | None:
        return self.current()  # one file, replaced atomically: nothing can be half done

    # ---------------------------------------------------------------- files
    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise RegistryError(f"key escapes the registry: {key!r}")
        return path

    def publish(self, version: str, onnx_path: Path, card_path: Path) -> ModelPointer:
        pointer = ModelPointer.for_version(version, file_sha256(onnx_path))
        target = self._path(pointer.onnx_key)
        if target.exists():
            if file_sha256(target) != pointer.sha256:
                raise RegistryError(f"version {version} is already published with a different model")
            return pointer  # a retried promotion of the same file
        staging = target.parent.with_name(f".{version}.partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        shutil.copyfile(onnx_path, staging / target.name)
        shutil.copyfile(card_path, staging / self._path(pointer.card_key).name)
        staging.rename(target.parent)  # the version folder appears whole or not at all
        for path in (target, self._path(pointer.card_key)):
            path.chmod(0o444)  # immutable by convention and by mode
        return pointer

    def fetch(self, pointer: ModelPointer, directory: Path) -> Path:
        path = self._path(pointer.onnx_key)
        if not path.is_file():
            raise RegistryError(f"version {pointer.version} is not published in {self.root}")
        return path  # already local: the card is beside it under the name the Classifier expects

    # ---------------------------------------------------------------- records
    def put_record(self, record: ModelRecord) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO models (version, created_at, document) VALUES (?, ?, ?)",
                (record.version, record.created_at.isoformat(), record.model_dump_json()),
            )

    def create_record(self, record: ModelRecord) -> bool:
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO models (version, created_at, document) VALUES (?, ?, ?)",
                    (record.version, record.created_at.isoformat(), record.model_dump_json()),
                )
            except sqlite3.IntegrityError:
                return False
        return True

    def get_record(self, version: str) -> ModelRecord | None:
        with self._lock:
            row = self._db.execute("SELECT document FROM models WHERE version = ?", (version,)).fetchone()
        return ModelRecord.model_validate_json(row[0]) if row else None

    def records(self) -> list[ModelRecord]:
        with self._lock:
            rows = self._db.execute("SELECT document FROM models ORDER BY created_at DESC").fetchall()
        return [ModelRecord.model_validate_json(r[0]) for r in rows]

    # ---------------------------------------------------------------- gate reports
    def _report_path(self, record: ModelRecord) -> Path:
        return Path(record.report) if record.report else self._path(f"jobs/{record.version}/{REPORT_FILE}")

    def save_report(self, record: ModelRecord, report_json: str, summary: str) -> str:
        path = self._path(f"jobs/{record.version}/{REPORT_FILE}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(report_json)
        path.with_suffix(".txt").write_text(summary)
        return str(path)

    def load_report(self, record: ModelRecord) -> str | None:
        try:
            return self._report_path(record).with_suffix(".txt").read_text()
        except FileNotFoundError:
            return None
