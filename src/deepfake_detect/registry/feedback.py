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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Protocol

from pydantic import BaseModel, Field

from deepfake_detect.registry.base import utc_now
from deepfake_detect.store.base import MediaStore

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

    def delete(self, result_id: str) -> None:
        """Forget the label of this result (its result was deleted); a missing one is fine."""
        ...

    def all(self) -> Iterator[Feedback]: ...

    def labels(self, result_ids: Sequence[str]) -> dict[str, Label]:
        """The labels of these results, by id; unlabelled ones are absent."""
        ...


def channel_media_prefix(result_id: str, prefix: str = "") -> str:
    """Where ``export_channel`` copies a labelled file: every copy of it starts with this."""
    return f"{prefix}media/{result_id}"


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
        name = f"{channel_media_prefix(item.result_id)}{PurePosixPath(item.media_key).suffix.lower()}"
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
