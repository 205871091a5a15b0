"""Reviewer labels in a local SQLite file (the ``FeedbackStore`` port of ``registry.feedback``)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from deepfake_detect.registry.feedback import Feedback


class SQLiteFeedbackStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS feedback (result_id TEXT PRIMARY KEY, "
            "created_at TEXT NOT NULL, document TEXT NOT NULL)"
        )

    def put(self, feedback: Feedback) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO feedback (result_id, created_at, document) VALUES (?, ?, ?)",
                (feedback.result_id, feedback.created_at.isoformat(), feedback.model_dump_json()),
            )

    def get(self, result_id: str) -> Feedback | None:
        with self._lock:
            row = self._db.execute(
                "SELECT document FROM feedback WHERE result_id = ?", (result_id,)
            ).fetchone()
        return Feedback.model_validate_json(row[0]) if row else None

    def all(self) -> Iterator[Feedback]:
        with self._lock:
            rows = self._db.execute("SELECT document FROM feedback ORDER BY created_at").fetchall()
        for row in rows:
            yield Feedback.model_validate_json(row[0])

    def close(self) -> None:
        self._db.close()
