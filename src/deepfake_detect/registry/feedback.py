"""Reviewer feedback: a ``real``/``fake`` label on a finished result, stored, and exported with its
media as a labelled training channel.

The channel layout (a folder locally, a prefix in the models bucket in AWS)::

    media/<result id><ext>     the reviewed file, copied out of the upload store (uploads expire)
    labels.csv                 file,label,result_id,reviewer,labelled_at,model_version,score

A SageMaker job receives it as the ``feedback`` channel (``SM_CHANNEL_FEEDBACK``); the local
``deepfake-detect retrain`` passes the same folder through the same variable.
"""

from __future__ import annotations

import csv
import io
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, Field

from deepfake_detect.registry.base import utc_now
from deepfake_detect.store.base import MediaStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

LABELS_FILE = "labels.csv"
COLUMNS = ("file", "label", "result_id", "reviewer", "labelled_at", "model_version", "score")


class Label(StrEnum):
    REAL = "real"
    FAKE = "fake"


class Feedback(BaseModel):
    result_id: str
    label: Label
    reviewer: str = Field("", max_length=200)
    note: str = Field("", max_length=2000)
    created_at: datetime = Field(default_factory=utc_now)
    media_key: str = Field(description="the reviewed file's key in the media store")
    path: str = Field("", description="the file name the result shows")
    model_version: str | None = Field(None, description="the model that produced the reviewed result")
    score: float | None = Field(None, description="that model's score for the file")


class FeedbackStore(Protocol):
    def put(self, feedback: Feedback) -> None:
        """Insert or replace the label of this result (the latest review wins)."""
        ...

    def get(self, result_id: str) -> Feedback | None: ...

    def all(self) -> Iterator[Feedback]: ...


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


class DynamoDBFeedbackStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client, self.table = client, table

    def put(self, feedback: Feedback) -> None:
        self.client.put_item(
            TableName=self.table,
            Item={
                "result_id": {"S": feedback.result_id},
                "label": {"S": feedback.label.value},
                "created_at": {"S": feedback.created_at.isoformat()},
                "document": {"S": feedback.model_dump_json()},
            },
        )

    def get(self, result_id: str) -> Feedback | None:
        item = self.client.get_item(
            TableName=self.table, Key={"result_id": {"S": result_id}}, ConsistentRead=True
        ).get("Item")
        return Feedback.model_validate_json(item["document"]["S"]) if item else None  # type: ignore[index]

    def all(self) -> Iterator[Feedback]:
        # Read once per training job: a scan over a table of reviews is the simple, cheap choice.
        for page in self.client.get_paginator("scan").paginate(TableName=self.table):
            for item in page.get("Items", []):
                yield Feedback.model_validate_json(item["document"]["S"])  # type: ignore[index]


@dataclass(frozen=True)
class ExportSummary:
    labelled: int  # rows in labels.csv
    copied: int  # media files copied by this export (earlier exports' files are kept)
    missing: list[str]  # results whose media is gone (expired upload): left out

    def as_dict(self) -> dict[str, object]:
        return {"labelled": self.labelled, "copied": self.copied, "missing": len(self.missing)}


def export_channel(
    feedback: FeedbackStore, media: MediaStore, channel: MediaStore, prefix: str = ""
) -> ExportSummary:
    """Write every labelled file and ``labels.csv`` into ``channel`` under ``prefix``."""
    rows: list[dict[str, str]] = []
    copied, missing = 0, []
    for item in feedback.all():
        name = f"media/{item.result_id}{PurePosixPath(item.media_key).suffix.lower()}"
        target = prefix + name
        if not channel.exists(target):
            try:
                with media.local_copy(item.media_key) as path, path.open("rb") as data:
                    channel.put(target, data)
            except KeyError:
                missing.append(item.result_id)
                continue
            copied += 1
        rows.append(
            {
                "file": name,
                "label": item.label.value,
                "result_id": item.result_id,
                "reviewer": item.reviewer,
                "labelled_at": item.created_at.isoformat(),
                "model_version": item.model_version or "",
                "score": "" if item.score is None else f"{item.score:.6f}",
            }
        )
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    channel.put(prefix + LABELS_FILE, text.getvalue().encode(), "text/csv")
    return ExportSummary(labelled=len(rows), copied=copied, missing=missing)
