"""The rows of the accuracy report (``registry.accuracy``) from the local service's SQLite files:
one query over the results database, with the feedback database attached and joined by id."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from deepfake_detect.core.result import Status, Verdict
from deepfake_detect.local.stores import _sort_key
from deepfake_detect.registry.accuracy import Reviewed, ReviewedBatch
from deepfake_detect.registry.feedback import Label

_QUERY = """
SELECT r.id, r.created_at, r.status,
       json_extract(r.document, '$.verdict'),
       json_extract(r.document, '$.model.version'),
       json_extract(f.document, '$.label')
FROM results AS r LEFT JOIN labels.feedback AS f ON f.result_id = r.id
WHERE r.created_at >= ? AND r.created_at < ?{owner}
ORDER BY r.created_at DESC, r.id DESC
"""


class SQLiteReviewedSource:
    """Every result of the range with its label: locally there is no bound (``limit`` None). The
    service's own stores create both files; this opens them read-only, once per report."""

    def __init__(self, results_path: Path, feedback_path: Path) -> None:
        self.results_path = results_path
        self.feedback_path = feedback_path

    def reviewed(self, *, owner: str | None, since: datetime, until: datetime) -> ReviewedBatch:
        if not self.results_path.is_file():
            return ReviewedBatch(rows=[])
        db = sqlite3.connect(_read_only(self.results_path), uri=True)
        try:
            if self.feedback_path.is_file():
                db.execute("ATTACH DATABASE ? AS labels", (_read_only(self.feedback_path),))
            else:  # no label was ever given: an empty table to join
                db.execute("ATTACH DATABASE ':memory:' AS labels")
                db.execute("CREATE TABLE labels.feedback (result_id TEXT PRIMARY KEY, document TEXT)")
            params: tuple[object, ...] = (_sort_key(since), _sort_key(until))
            if owner is not None:
                params += (owner,)
            query = _QUERY.format(owner=" AND r.owner = ?" if owner is not None else "")
            rows = db.execute(query, params).fetchall()
        finally:
            db.close()
        return ReviewedBatch(
            rows=[
                Reviewed(
                    result_id=result_id,
                    created_at=datetime.fromisoformat(created_at),
                    status=Status(status),
                    verdict=Verdict(verdict) if verdict else None,
                    model_version=None if version is None else str(version),
                    label=Label(label) if label else None,
                )
                for result_id, created_at, status, verdict, version, label in rows
            ]
        )


def _read_only(path: Path) -> str:
    return f"file:{quote(str(path.resolve()))}?mode=ro"
