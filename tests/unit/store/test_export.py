"""Export (``store/export.py``): a time range read from the store a page at a time, oldest first,
as JSON Lines (the API's record) or CSV (the documented flat columns), whole or cut at a byte
budget with the position to resume from."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from deepfake_detect.core.errors import ErrorCode
from deepfake_detect.core.result import DetectionResult, ErrorInfo, ModelInfo, Status, Verdict
from deepfake_detect.local.stores import SQLiteResultStore
from deepfake_detect.store import export
from deepfake_detect.store.export import CSV_COLUMNS, ExportFormat

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path) -> SQLiteResultStore:
    results = SQLiteResultStore(tmp_path / "results.sqlite3")
    for n in range(7):
        results.put(
            DetectionResult(
                id=f"r{n}",
                path=f"photo-{n}.jpg",
                created_at=START + timedelta(minutes=n),
                verdict=Verdict.FAKE if n % 2 else Verdict.REAL,
                score=0.1 * n,
                owner="alice" if n != 3 else "bob",
                model=ModelInfo(name="m", version="4", sha256="ab" * 32),
                timings_ms={"total": 12.5},
                source={"sha256": "cd" * 32},
            )
        )
    # Two at the same moment: the id orders them.
    results.put(DetectionResult(id="r9", path="same-b.jpg", created_at=START + timedelta(hours=1)))
    results.put(DetectionResult(id="r8", path="same-a.jpg", created_at=START + timedelta(hours=1)))
    return results


def test_between_pages_oldest_first_and_resumes_after_the_last(store: SQLiteResultStore) -> None:
    until = START + timedelta(days=1)
    first = store.between(START, until, limit=4)
    assert [r.id for r in first.items] == ["r0", "r1", "r2", "r3"]
    assert first.last == (START + timedelta(minutes=3), "r3")
    rest = store.between(START, until, limit=10, after=first.last)
    assert [r.id for r in rest.items] == ["r4", "r5", "r6", "r8", "r9"] and rest.last is None
    assert [r.id for r in store.between(START, until, owner="bob").items] == ["r3"]
    # since included, until excluded
    window = store.between(START + timedelta(minutes=1), START + timedelta(minutes=3))
    assert [r.id for r in window.items] == ["r1", "r2"]
    with pytest.raises(ValueError):
        store.between(START, until, limit=0)


def test_jsonl_is_the_record_the_api_answers(store: SQLiteResultStore) -> None:
    until = START + timedelta(minutes=30)
    body = b"".join(export.stream(store, START, until, ExportFormat.JSONL, owner="alice"))
    lines = body.decode().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["r0", "r1", "r2", "r4", "r5", "r6"]
    assert json.loads(lines[0]) == json.loads(store.get("r0").model_dump_json())  # type: ignore[union-attr]


def test_csv_has_the_documented_columns_and_disarms_formulas(tmp_path) -> None:
    results = SQLiteResultStore(tmp_path / "results.sqlite3")
    failed = DetectionResult(
        id="f1",
        path='=HYPERLINK("http://x").jpg',
        status=Status.FAILED,
        verdict=Verdict.ERROR,
        error=ErrorInfo(code=ErrorCode.CORRUPT_MEDIA, message="bad\nbytes, really"),
        created_at=START,
    )
    results.put(failed)
    body = b"".join(export.stream(results, START, START + timedelta(days=1), ExportFormat.CSV, owner=None))
    rows = list(csv.DictReader(io.StringIO(body.decode(), newline="")))
    assert tuple(rows[0]) == CSV_COLUMNS
    [only] = rows
    assert only["path"] == '\'=HYPERLINK("http://x").jpg'
    assert only["error_code"] == "corrupt_media" and only["error_message"] == "bad\nbytes, really"
    assert only["verdict"] == "error" and only["score"] == "" and only["faces"] == "0"
    assert only["declared_ai"] == "" and only["created_at"] == "2026-03-02T09:00:00+00:00"


def test_a_csv_row_names_model_hash_and_counts(store: SQLiteResultStore) -> None:
    row = export.csv_row(store.get("r1"))  # type: ignore[arg-type]
    assert row["model_version"] == "4" and row["model_sha256"] == "ab" * 32
    assert row["sha256"] == "cd" * 32 and row["total_ms"] == "12.5" and row["owner"] == "alice"
    assert row["verdict"] == "fake" and row["score"] == "0.1"


@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_a_bounded_export_resumes_where_it_stopped(store: SQLiteResultStore, fmt: ExportFormat) -> None:
    until = START + timedelta(days=1)
    whole = b"".join(export.stream(store, START, until, fmt, owner=None))
    one_record = len(export.encode(store.get("r0"), fmt))  # type: ignore[arg-type]
    pieces, after, answers = [], None, 0
    while True:
        body, after = export.bounded(
            store, START, until, fmt, owner=None, max_bytes=2 * one_record + 200, after=after
        )
        answers += 1
        if fmt is ExportFormat.CSV and answers > 1:
            header, _, body = body.partition(b"\r\n")
            assert header + b"\r\n" == export.csv_header()
        pieces.append(body)
        if after is None:
            break
        token = export.encode_position(after)
        assert export.decode_position(token) == after
    assert b"".join(pieces) == whole
    assert answers >= 3
    # A budget smaller than one record still moves on, one record an answer.
    body, after = export.bounded(store, START, until, fmt, owner=None, max_bytes=1)
    assert after == (START, "r0")


def test_a_token_the_service_did_not_make_is_refused() -> None:
    awkward = [
        json.dumps(["x"]),
        json.dumps(["not a time", "r1"]),
        json.dumps(["0001-01-01T00:00:00+01:00", "r"]),
    ]
    for token in ("", "zz", "7b7d", *(text.encode().hex() for text in awkward)):
        with pytest.raises(ValueError):
            export.decode_position(token)
