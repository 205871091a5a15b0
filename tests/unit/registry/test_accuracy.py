"""The accuracy report's one aggregation (``registry.accuracy``): hand-made results and labels in,
exact counts out; and the local SQL source that feeds it (results and labels joined by id)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from deepfake_detect.core.result import DetectionResult, ModelInfo, Status, Verdict
from deepfake_detect.local.accuracy import SQLiteReviewedSource
from deepfake_detect.local.feedback import SQLiteFeedbackStore
from deepfake_detect.local.stores import SQLiteResultStore
from deepfake_detect.registry.accuracy import (
    MAX_WEEKS,
    Outcome,
    Reviewed,
    ReviewedBatch,
    WeekAccuracy,
    accuracy_by_week,
    accuracy_report,
    iso_week,
    outcome,
    report_range,
)
from deepfake_detect.registry.feedback import Feedback, Label

# Monday 2026-02-09 is the first day of ISO week 2026-W07; 2026-02-16 starts W08.
W07 = datetime(2026, 2, 9, 0, 0, tzinfo=UTC)
W08 = datetime(2026, 2, 16, 0, 0, tzinfo=UTC)


def row(
    n: int,
    when: datetime,
    verdict: Verdict | None,
    version: str | None = "1",
    label: Label | None = None,
    status: Status = Status.DONE,
) -> Reviewed:
    return Reviewed(f"r{n}", when, status, verdict, version, label)


def test_iso_weeks_and_the_range_are_whole_utc_weeks() -> None:
    assert iso_week(W07) == ("2026-W07", date(2026, 2, 9))
    assert iso_week(W08 - timedelta(microseconds=1)) == ("2026-W07", date(2026, 2, 9))
    # A time with an offset counts in its UTC week: Monday 00:30 in Paris is Sunday in UTC.
    paris = datetime(2026, 2, 16, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    assert iso_week(paris)[0] == "2026-W07"
    # The ISO year differs from the calendar year around New Year.
    assert iso_week(datetime(2027, 1, 1, tzinfo=UTC))[0] == "2026-W53"
    now = datetime(2026, 2, 18, 15, 0, tzinfo=UTC)  # a Wednesday of W08
    assert report_range(1, now) == (W08, now)
    assert report_range(2, now) == (W07, now)
    with pytest.raises(ValueError):
        report_range(MAX_WEEKS + 1, now)
    with pytest.raises(ValueError):
        report_range(0, now)


def test_a_label_is_compared_with_the_verdict_it_labels() -> None:
    assert outcome(Verdict.FAKE, Label.FAKE) is Outcome.AGREED
    assert outcome(Verdict.REAL, Label.REAL) is Outcome.AGREED
    assert outcome(Verdict.FAKE, Label.REAL) is Outcome.FALSE_POSITIVE
    assert outcome(Verdict.REAL, Label.FAKE) is Outcome.MISS
    assert outcome(Verdict.NO_FACE, Label.FAKE) is Outcome.OTHER
    assert outcome("fake", "real") is Outcome.FALSE_POSITIVE  # as stored: plain strings


def test_counts_per_model_version_and_week() -> None:
    day = timedelta(days=1)
    rows = [
        # W07, model 1: four done (two fake), one failed, one still queued.
        row(1, W07, Verdict.FAKE, label=Label.FAKE),  # agreed
        row(2, W07 + day, Verdict.FAKE, label=Label.REAL),  # false positive
        row(3, W07 + 2 * day, Verdict.REAL, label=Label.FAKE),  # miss
        row(4, W07 + 3 * day, Verdict.REAL),
        row(5, W07 + 4 * day, Verdict.ERROR, status=Status.FAILED),
        row(6, W07 + 5 * day, None, version=None, status=Status.QUEUED),
        # W07, model 2: one no-face result labelled fake (overturned, neither kind).
        row(7, W07 + 6 * day, Verdict.NO_FACE, version="2", label=Label.FAKE),
        # W08, model 2: three done, all labelled and agreed; a failure before the model ran.
        row(8, W08, Verdict.REAL, version="2", label=Label.REAL),
        row(9, W08 + day, Verdict.REAL, version="2", label=Label.REAL),
        row(10, W08 + 2 * day, Verdict.FAKE, version="2", label=Label.FAKE),
        row(11, W08 + day, Verdict.ERROR, version=None, status=Status.FAILED),
    ]
    report = accuracy_by_week(rows)

    def expected(week: str, monday: date, version: str | None, **counts: float | None) -> WeekAccuracy:
        return WeekAccuracy(week=week, week_start=monday, model_version=version, **counts)  # type: ignore[arg-type]

    assert report == [
        expected(
            "2026-W08", date(2026, 2, 16), "2", results=3, done=3, fake=1, fake_rate=1 / 3,
            labels=3, agreed=3, overturned=0, false_positives=0, misses=0, agreement=1.0,
        ),
        expected(
            "2026-W08", date(2026, 2, 16), None, results=1, done=0, fake=0, fake_rate=None,
            labels=0, agreed=0, overturned=0, false_positives=0, misses=0, agreement=None,
        ),
        expected(
            "2026-W07", date(2026, 2, 9), "1", results=5, done=4, fake=2, fake_rate=0.5,
            labels=3, agreed=1, overturned=2, false_positives=1, misses=1, agreement=1 / 3,
        ),
        expected(
            "2026-W07", date(2026, 2, 9), "2", results=1, done=1, fake=0, fake_rate=0.0,
            labels=1, agreed=0, overturned=1, false_positives=0, misses=0, agreement=0.0,
        ),
    ]  # fmt: skip
    # The queued record (r6) is in no row: it has not finished.
    assert sum(r.results for r in report) == 10


def test_nothing_in_gives_no_rows() -> None:
    assert accuracy_by_week([]) == []


class _Rows:
    def __init__(self, rows: list[Reviewed]) -> None:
        self.rows = rows
        self.asked: list[tuple[str | None, datetime, datetime]] = []

    def reviewed(self, *, owner: str | None, since: datetime, until: datetime) -> ReviewedBatch:
        self.asked.append((owner, since, until))
        return ReviewedBatch(rows=self.rows, truncated=True, limit=3)


def test_the_report_asks_its_source_for_whole_weeks() -> None:
    now = datetime(2026, 2, 18, 15, 0, tzinfo=UTC)
    source = _Rows([row(1, W08, Verdict.FAKE, label=Label.REAL)])
    report = accuracy_report(source, owner="alice", weeks=2, now=now)
    assert source.asked == [("alice", W07, now)]
    assert (report.since, report.until, report.weeks) == (W07, now, 2)
    assert (report.results_read, report.truncated, report.limit) == (1, True, 3)
    [only] = report.rows
    assert (only.week, only.false_positives, only.agreement) == ("2026-W08", 1, 0.0)


def test_the_local_source_joins_results_and_labels_in_sql(tmp_path) -> None:
    results = SQLiteResultStore(tmp_path / "results.sqlite3")
    feedback = SQLiteFeedbackStore(tmp_path / "feedback.sqlite3")
    model = ModelInfo(name="m", version="7", sha256="0" * 64)

    def put(n: int, when: datetime, verdict: Verdict, owner: str = "local", **extra: object) -> None:
        results.put(
            DetectionResult(
                id=f"r{n}",
                path=f"{n}.jpg",
                verdict=verdict,
                created_at=when,
                owner=owner,
                model=model,
                **extra,
            )  # type: ignore[arg-type]
        )

    put(1, W07 + timedelta(hours=1), Verdict.FAKE)
    put(2, W07 + timedelta(hours=2), Verdict.REAL)
    put(3, W08 + timedelta(hours=1), Verdict.FAKE, owner="someone-else")
    put(4, W07 - timedelta(microseconds=1), Verdict.FAKE)  # the week before: outside
    put(5, W08, Verdict.FAKE)  # at until: outside
    for result_id, label in (("r1", Label.REAL), ("r2", Label.REAL), ("r3", Label.FAKE), ("r4", Label.REAL)):
        feedback.put(Feedback(result_id=result_id, label=label, media_key=f"uploads/{result_id}.jpg"))
    source = SQLiteReviewedSource(results.path, tmp_path / "feedback.sqlite3")

    mine = source.reviewed(owner="local", since=W07, until=W08)
    assert [(r.result_id, r.verdict, r.model_version, r.label) for r in mine.rows] == [
        ("r2", Verdict.REAL, "7", Label.REAL),
        ("r1", Verdict.FAKE, "7", Label.REAL),
    ]
    assert (mine.truncated, mine.limit) == (False, None)
    everyone = source.reviewed(owner=None, since=W07, until=W08 + timedelta(days=1))
    assert {r.result_id for r in everyone.rows} == {"r1", "r2", "r3", "r5"}
    [week] = accuracy_by_week(mine.rows)
    assert (week.done, week.fake, week.labels, week.agreed, week.false_positives) == (2, 1, 2, 1, 1)
    assert feedback.labels(["r1", "r3", "missing"]) == {"r1": Label.REAL, "r3": Label.FAKE}
    # No feedback database yet (nothing was ever labelled): every result, no labels.
    bare = SQLiteReviewedSource(results.path, tmp_path / "none.sqlite3").reviewed(
        owner="local", since=W07, until=W08
    )
    assert [r.label for r in bare.rows] == [None, None]


def test_a_label_on_an_inconclusive_verdict_resolves_it_and_agreement_counts_decided_verdicts() -> None:
    assert outcome(Verdict.INCONCLUSIVE, Label.FAKE) is Outcome.RESOLVED
    assert outcome(Verdict.INCONCLUSIVE, Label.REAL) is Outcome.RESOLVED
    rows = [
        row(1, W07, Verdict.FAKE, label=Label.FAKE),  # agreed
        row(2, W07, Verdict.REAL, label=Label.FAKE),  # miss
        row(3, W07, Verdict.INCONCLUSIVE, label=Label.REAL),  # resolved
        row(4, W07, Verdict.INCONCLUSIVE),  # not labelled
    ]
    (week,) = accuracy_by_week(rows)
    assert (week.done, week.fake, week.inconclusive) == (4, 1, 2)
    assert (week.labels, week.resolved, week.agreed, week.overturned) == (3, 1, 1, 1)
    assert week.agreement == 0.5  # 1 of the 2 labels on decided verdicts
    only_resolved = accuracy_by_week([row(5, W07, Verdict.INCONCLUSIVE, label=Label.FAKE)])
    assert only_resolved[0].agreement is None
