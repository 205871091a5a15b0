"""Reviewer labels in a local SQLite file (the ``FeedbackStore`` port of ``registry.feedback``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from deepfake_detect.local.sqlite import open_sqlite
from deepfake_detect.registry.feedback import Feedback, Label


class SQLiteFeedbackStore:
    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = open_sqlite(path)
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

    def delete(self, result_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM feedback WHERE result_id = ?", (result_id,))

    def all(self) -> Iterator[Feedback]:
        with self._lock:
            rows = self._db.execute("SELECT document FROM feedback ORDER BY created_at").fetchall()
        for row in rows:
            yield Feedback.model_validate_json(row[0])

    def labels(self, result_ids: Sequence[str]) -> dict[str, Label]:
        found: dict[str, Label] = {}
        ids = list(dict.fromkeys(result_ids))
        for start in range(0, len(ids), 500):  # SQLite takes at most 999 parameters (older builds)
            chunk = ids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            with self._lock:
                rows = self._db.execute(
                    f"SELECT result_id, json_extract(document, '$.label') FROM feedback "
                    f"WHERE result_id IN ({marks})",
                    chunk,
                ).fetchall()
            found.update({result_id: Label(label) for result_id, label in rows})
        return found

    def close(self) -> None:
        self._db.close()
