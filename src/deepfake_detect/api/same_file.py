"""Results of the same file: ``GET /v1/results/{id}``'s ``same_file`` section.

Every record carries the SHA-256 of the bytes it scanned (``source["sha256"]``); the result store
finds the owner's other records of those bytes (``ResultStore.same_file``, an index on owner and
hash). A reviewer's label is stored once, on the result it was given on, and is looked up here when
an identical file is read: nothing is copied, so it cannot go stale (a new label, or one removed
with its result, shows at the next read), and the accuracy report, which reads each result's own
label, counts it once.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from deepfake_detect.core.result import DetectionResult
from deepfake_detect.registry.feedback import FeedbackStore, Label
from deepfake_detect.store.base import ResultStore, owner_of

# How many of the other results the section names (newest first); ``count`` counts them all.
SAME_FILE_SHOWN = 5


class SameFileResult(BaseModel):
    id: str = Field(description="another result of the same file")
    created_at: datetime
    label: Label | None = Field(None, description="the reviewer's label on that result, if any")


class SameFileLabel(BaseModel):
    """A reviewer's label on another result of the same file: it applies to this one too."""

    result_id: str = Field(description="the result the label was given on")
    label: Label = Field(description="what the reviewer says the file is")
    reviewer: str = Field(description="who labelled it: the signed-in user in the cloud, 'local' locally")
    created_at: datetime = Field(description="when it was labelled")


class SameFile(BaseModel):
    """The caller's other results of the very same bytes (the same SHA-256)."""

    sha256: str = Field(description="the file's SHA-256, as in source.sha256")
    count: int = Field(description="how many other results of the caller's scanned these bytes")
    earlier: int = Field(description="how many of them were made before this one")
    items: list[SameFileResult] = Field(
        description=f"up to {SAME_FILE_SHOWN} of them, newest first, with any reviewer's label"
    )
    label: SameFileLabel | None = Field(
        None,
        description="the newest reviewer's label on any of them (a label applies to identical "
        "files); the result's own label, if it has one, is read from GET /v1/feedback",
    )


class ResultView(DetectionResult):
    """A result as ``GET /v1/results/{id}`` answers it: the record, and its file's other results."""

    same_file: SameFile | None = Field(
        None,
        description="the caller's other results of the same file and a reviewer's label on them; "
        "null when the file's hash is not known yet (a cloud scan that has not read it) or no "
        "other result has it",
    )


def same_file(
    results: ResultStore, feedback: FeedbackStore | None, result: DetectionResult
) -> SameFile | None:
    """The ``same_file`` section of ``result`` (None when no other result of its owner has its bytes)."""
    sha256 = result.source.get("sha256")
    if not sha256:
        return None
    others = [(created, i) for created, i in results.same_file(owner_of(result), sha256) if i != result.id]
    if not others:
        return None
    labels = feedback.labels([i for _, i in others]) if feedback is not None else {}
    mine = result.created_at.timestamp()
    items = [
        SameFileResult(id=i, created_at=created, label=labels.get(i))
        for created, i in others[:SAME_FILE_SHOWN]
    ]
    return SameFile(
        sha256=sha256,
        count=len(others),
        earlier=sum(created.timestamp() < mine for created, _ in others),
        items=items,
        label=_newest_label(feedback, [i for _, i in others if i in labels]),
    )


def _newest_label(feedback: FeedbackStore | None, labelled: list[str]) -> SameFileLabel | None:
    newest = None
    for result_id in labelled[:20]:  # a file labelled more often than that: the newest results' labels
        found = feedback.get(result_id) if feedback is not None else None
        if found is not None and (newest is None or found.created_at > newest.created_at):
            newest = found
    if newest is None:
        return None
    return SameFileLabel(
        result_id=newest.result_id, label=newest.label, reviewer=newest.reviewer, created_at=newest.created_at
    )
