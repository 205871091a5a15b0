"""Accuracy over time: reviewers' labels compared with the verdicts they label, per model version
and per ISO week (``GET /v1/stats``, the page's "Model accuracy over time" panel).

One pure aggregation, ``accuracy_by_week``, over ``Reviewed`` rows (a result's id, creation time,
status, verdict and model version, and its reviewer's label if it has one). The stores only
supply those rows (``ReviewedSource``): the local service with one SQL query over SQLite, the
cloud by querying the caller's results on the owner index and reading their labels by id.

Definitions, per (model version, ISO week of the result's ``created_at`` in UTC):

- ``results``: finished results (done or failed); queued and processing ones are not counted;
- ``done``, ``fake``, ``inconclusive``: done results, and those whose verdict is ``fake`` or
  ``inconclusive``; ``fake_rate`` = fake / done;
- ``labels``: results with a reviewer's label (only a done result can be labelled);
- ``resolved``: labels on an ``inconclusive`` verdict: the reviewer settled what the model left
  open, which is neither agreement nor disagreement;
- ``agreed``: labels equal to the verdict; ``overturned`` = labels - resolved - agreed;
- ``false_positives``: verdict fake, label real (reviewers confirm a false alarm);
- ``misses``: verdict real, label fake (reviewers confirm a missed fake);
- ``agreement`` = agreed / (labels - resolved): how often a decided verdict held.

A label on a ``no_face`` verdict is overturned but neither a false positive nor a miss. The verdict
is the result's own (``verdict``: a file whose metadata declares AI generation is ``fake`` whatever
the classifier said), the model version the one that produced the result, and a result is counted
in the week it was made, not in the week it was labelled. Results without a model (a file refused
before the classifier ran) have ``model_version`` None.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, Field

from deepfake_detect.core.result import Status, Verdict
from deepfake_detect.registry.feedback import Label

# GET /v1/stats?weeks=: how far back a report may reach.
DEFAULT_WEEKS = 8
MAX_WEEKS = 26


class Outcome(StrEnum):
    """What a reviewer's label says about the verdict it labels."""

    AGREED = "agreed"
    FALSE_POSITIVE = "false_positive"  # verdict fake, label real
    MISS = "miss"  # verdict real, label fake
    RESOLVED = "resolved"  # verdict inconclusive: the label settles it
    OTHER = "other"  # overturned, neither of the above (a label on a no_face verdict)


def outcome(verdict: Verdict | str | None, label: Label | str) -> Outcome:
    """The one comparison of a label with a verdict (the report and the cloud's metrics use it)."""
    verdict_value = None if verdict is None else str(verdict)
    label_value = str(label)
    if verdict_value == Verdict.INCONCLUSIVE.value:
        return Outcome.RESOLVED
    if verdict_value == label_value:
        return Outcome.AGREED
    if verdict_value == Verdict.FAKE.value and label_value == Label.REAL.value:
        return Outcome.FALSE_POSITIVE
    if verdict_value == Verdict.REAL.value and label_value == Label.FAKE.value:
        return Outcome.MISS
    return Outcome.OTHER


@dataclass(frozen=True)
class Reviewed:
    """One result as the report needs it, with its reviewer's label (None: not labelled)."""

    result_id: str
    created_at: datetime
    status: Status
    verdict: Verdict | None
    model_version: str | None
    label: Label | None = None


@dataclass(frozen=True)
class ReviewedBatch:
    """The rows of a time range; ``truncated`` when the source stopped at its bound (``limit``
    newest results): the oldest weeks of the range are then incomplete."""

    rows: list[Reviewed]
    truncated: bool = False
    limit: int | None = None


class ReviewedSource(Protocol):
    def reviewed(self, *, owner: str | None, since: datetime, until: datetime) -> ReviewedBatch:
        """Every result created in ``[since, until)`` (``owner``'s only when given), newest first,
        each with its reviewer's label; at most the source's bound."""
        ...


class WeekAccuracy(BaseModel):
    """One model version in one ISO week: how much it scanned and how reviewers judged it."""

    week: str = Field(description="ISO week of the results' creation (UTC), e.g. 2026-W07")
    week_start: date = Field(description="the Monday that week starts on")
    model_version: str | None = Field(
        description="the model that produced the results; null for files refused before the model ran"
    )
    results: int = Field(description="finished results (done or failed) created that week")
    done: int = Field(description="results that finished with a verdict")
    fake: int = Field(description="done results whose verdict is fake")
    inconclusive: int = Field(0, description="done results whose verdict is inconclusive")
    fake_rate: float | None = Field(description="fake / done; null without done results")
    labels: int = Field(description="results a reviewer labelled")
    resolved: int = Field(0, description="labels on an inconclusive verdict (the reviewer settled it)")
    agreed: int = Field(description="labels equal to the verdict")
    overturned: int = Field(
        description="labels that differ from a decided verdict (labels - resolved - agreed)"
    )
    false_positives: int = Field(description="verdict fake, reviewer's label real")
    misses: int = Field(description="verdict real, reviewer's label fake")
    agreement: float | None = Field(
        description="agreed / (labels - resolved): how often a decided verdict held; null without such labels"
    )


class AccuracyReport(BaseModel):
    """``GET /v1/stats``: per model version and ISO week, newest week first."""

    since: datetime = Field(description="start of the range: Monday 00:00 UTC of the oldest week")
    until: datetime = Field(description="end of the range (now)")
    weeks: int = Field(description="ISO weeks in the range, the current one included")
    results_read: int = Field(description="results read for the report (every status)")
    truncated: bool = Field(
        description="the deployment's bound was reached: only the newest `limit` results of the range were "
        "read, so the oldest weeks are incomplete"
    )
    limit: int | None = Field(description="most results one report reads (null: no bound, the local service)")
    rows: list[WeekAccuracy]


def iso_week(moment: datetime) -> tuple[str, date]:
    """``("2026-W07", Monday)`` of a moment, in UTC."""
    day = _utc(moment).date()
    year, week, weekday = day.isocalendar()
    return f"{year}-W{week:02d}", day - timedelta(days=weekday - 1)


def report_range(weeks: int, now: datetime | None = None) -> tuple[datetime, datetime]:
    """``[Monday 00:00 UTC of the week weeks-1 before now's, now)``: whole ISO weeks."""
    if not 1 <= weeks <= MAX_WEEKS:
        raise ValueError(f"weeks must be between 1 and {MAX_WEEKS}")
    until = _utc(now or datetime.now(UTC))
    _, monday = iso_week(until)
    since = datetime.combine(monday - timedelta(weeks=weeks - 1), time(), tzinfo=UTC)
    return since, until


@dataclass
class _Counts:
    results: int = 0
    done: int = 0
    fake: int = 0
    inconclusive: int = 0
    labels: int = 0
    resolved: int = 0
    agreed: int = 0
    false_positives: int = 0
    misses: int = 0


def accuracy_by_week(rows: Iterable[Reviewed]) -> list[WeekAccuracy]:
    """The report's rows: one per (model version, ISO week) with a finished result or a label,
    newest week first, then by model version (a missing version last)."""
    groups: dict[tuple[str, date, str | None], _Counts] = {}
    for row in rows:
        finished = row.status in (Status.DONE, Status.FAILED)
        if not finished and row.label is None:
            continue
        week, monday = iso_week(row.created_at)
        counts = groups.setdefault((week, monday, row.model_version), _Counts())
        if finished:
            counts.results += 1
        if row.status is Status.DONE:
            counts.done += 1
            counts.fake += row.verdict is Verdict.FAKE
            counts.inconclusive += row.verdict is Verdict.INCONCLUSIVE
        if row.label is not None:
            counts.labels += 1
            said = outcome(row.verdict, row.label)
            counts.agreed += said is Outcome.AGREED
            counts.resolved += said is Outcome.RESOLVED
            counts.false_positives += said is Outcome.FALSE_POSITIVE
            counts.misses += said is Outcome.MISS
    ordered = sorted(
        groups.items(),
        key=lambda item: (-item[0][1].toordinal(), item[0][2] is None, item[0][2] or ""),
    )
    return [
        WeekAccuracy(
            week=week,
            week_start=monday,
            model_version=version,
            results=c.results,
            done=c.done,
            fake=c.fake,
            fake_rate=c.fake / c.done if c.done else None,
            inconclusive=c.inconclusive,
            labels=c.labels,
            resolved=c.resolved,
            agreed=c.agreed,
            overturned=c.labels - c.resolved - c.agreed,
            false_positives=c.false_positives,
            misses=c.misses,
            agreement=c.agreed / (c.labels - c.resolved) if c.labels > c.resolved else None,
        )
        for (week, monday, version), c in ordered
    ]


def accuracy_report(
    source: ReviewedSource, *, owner: str | None, weeks: int = DEFAULT_WEEKS, now: datetime | None = None
) -> AccuracyReport:
    """The report of the last ``weeks`` ISO weeks (the current one included) from ``source``."""
    since, until = report_range(weeks, now)
    batch = source.reviewed(owner=owner, since=since, until=until)
    return AccuracyReport(
        since=since,
        until=until,
        weeks=weeks,
        results_read=len(batch.rows),
        truncated=batch.truncated,
        limit=batch.limit,
        rows=accuracy_by_week(batch.rows),
    )


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
