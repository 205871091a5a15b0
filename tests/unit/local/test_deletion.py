"""Deleting results locally: the record, the upload, the evidence image (and any other image of it),
a reviewer's label and its training copy; a scan still running cannot bring a deleted record back;
retention deletes old results the same way. The cloud's side is in
tests/integration/test_ownership_and_deletion.py (S3 versions, DynamoDB tombstones)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from deepfake_detect.cli import main
from deepfake_detect.core.pipeline import Analysis
from deepfake_detect.core.result import DetectionResult, Evidence, MediaKind, Status, Verdict
from deepfake_detect.local.feedback import SQLiteFeedbackStore
from deepfake_detect.local.retention import RetentionSweeper
from deepfake_detect.local.retrain import feedback_channel
from deepfake_detect.local.stores import LocalMediaStore, SQLiteResultStore
from deepfake_detect.local.wiring import local_app, local_stores
from deepfake_detect.local.worker import LocalProcessor
from deepfake_detect.registry.feedback import Feedback, Label
from deepfake_detect.settings import Settings
from deepfake_detect.store.base import ObjectNotFoundError, ResultDeletedError
from deepfake_detect.store.deletion import ResultDeleter
from deepfake_detect.store.keys import evidence_key
from tests.support.wait import wait_until

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def scanned(
    settings: Settings,
    media: LocalMediaStore,
    results: SQLiteResultStore,
    *,
    created: datetime | None = None,
    status: Status = Status.DONE,
    labelled: bool = False,
) -> DetectionResult:
    """A finished local result with every file a result can have: the upload, the evidence image,
    a thumbnail beside it, a reviewer's label and its copy in the training channel."""
    record = DetectionResult(path="face.jpg", media_kind=MediaKind.IMAGE, status=status, verdict=Verdict.REAL)
    record.source = {"key": f"uploads/{record.id}/upload.jpg", "store": "local"}
    record.evidence = Evidence(key=evidence_key(record.id))
    if created is not None:
        record.created_at = created
    media.put(record.source["key"], b"upload bytes")
    media.put(record.evidence.key, b"\xff\xd8\xff evidence")
    media.put(f"evidence/{record.id}-thumb.jpg", b"\xff\xd8\xff thumbnail")
    results.put(record)
    if labelled:
        SQLiteFeedbackStore(settings.data_dir / "feedback.sqlite3").put(
            Feedback(result_id=record.id, label=Label.FAKE, media_key=record.source["key"])
        )
        channel = LocalMediaStore(feedback_channel(settings))
        channel.put(f"media/{record.id}.jpg", b"upload bytes")
        channel.put("labels.csv", b"file,label\n")
    return record


def nothing_left_of(record: DetectionResult, settings: Settings) -> None:
    results = SQLiteResultStore(settings.data_dir / "results.sqlite3")
    assert results.get(record.id) is None
    assert record.id not in {r.id for r in results.list(limit=100).items}
    assert SQLiteFeedbackStore(settings.data_dir / "feedback.sqlite3").get(record.id) is None
    leftovers = [
        p
        for p in files_under(settings.data_dir / "media") + files_under(feedback_channel(settings))
        if record.id in str(p)
    ]
    assert leftovers == []


# ---------------------------------------------------------------- the stores
def test_the_media_folder_deletes_by_prefix(tmp_path: Path) -> None:
    media = LocalMediaStore(tmp_path / "media")
    for key in ("evidence/abc.jpg", "evidence/abc-thumb.jpg", "evidence/abc/frame1.jpg", "evidence/abd.jpg"):
        media.put(key, b"x")
    media.put("uploads/abc/clip.mp4", b"x")
    media.put("uploads/abc/nested/part", b"x")
    assert media.delete_prefix("evidence/abc") == 3
    assert media.delete_prefix("uploads/abc/") == 2
    assert media.delete_prefix("uploads/none/") == 0
    assert [p.relative_to(tmp_path / "media").as_posix() for p in files_under(tmp_path / "media")] == [
        "evidence/abd.jpg"
    ]
    assert not (tmp_path / "media" / "uploads").exists()  # emptied folders go too
    with pytest.raises(ValueError, match="escapes"):
        media.delete_prefix("../outside")
    with pytest.raises(ObjectNotFoundError):
        media.get("evidence/abc.jpg")


def test_a_deleted_record_is_not_written_back(tmp_path: Path) -> None:
    results = SQLiteResultStore(tmp_path / "results.sqlite3")
    record = DetectionResult(path="a.jpg", status=Status.PROCESSING)
    results.put(record)
    results.delete(record.id)
    assert results.get(record.id) is None
    record.status = Status.DONE
    with pytest.raises(ResultDeletedError):
        results.put(record)  # the scan that was running when the result was deleted
    # Another process (`deepfake-detect delete` beside the service) sees the same mark.
    with pytest.raises(ResultDeletedError):
        SQLiteResultStore(tmp_path / "results.sqlite3").put(record)
    assert results.forget_deleted(datetime.now(UTC) + timedelta(seconds=1)) == 1
    results.put(record)  # a day later the mark is gone (no scan lasts that long)
    assert results.get(record.id) is not None


def test_an_old_database_gains_owners(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "results.sqlite3"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE results (id TEXT PRIMARY KEY, created_at TEXT NOT NULL, "
        "status TEXT NOT NULL, document TEXT NOT NULL)"
    )
    record = DetectionResult(path="old.jpg")
    old.execute(
        "INSERT INTO results VALUES (?, ?, ?, ?)",
        (record.id, "2025-01-01T00:00:00.000000+00:00", "done", record.model_dump_json()),
    )
    old.commit()
    old.close()
    results = SQLiteResultStore(path)
    assert [r.id for r in results.list(owner="local").items] == [record.id]
    assert results.list(owner="someone").items == []


# ---------------------------------------------------------------- deleting a result
def test_delete_removes_the_record_and_every_file(settings: Settings) -> None:
    media, results, deleter = local_stores(settings)
    record = scanned(settings, media, results, labelled=True)
    other = scanned(settings, media, results, labelled=True)
    deleter.delete(record)
    nothing_left_of(record, settings)
    # The other result and the channel's own files are untouched.
    assert results.get(other.id) is not None and media.exists(other.source["key"])
    assert (feedback_channel(settings) / f"media/{other.id}.jpg").is_file()
    assert (feedback_channel(settings) / "labels.csv").is_file()
    deleter.delete(record)  # again: what is gone is fine


def test_delete_through_the_local_api(settings: Settings) -> None:
    media, results, _ = local_stores(settings)
    record = scanned(settings, media, results, labelled=True)
    with TestClient(local_app(settings), base_url="http://127.0.0.1") as client:
        # A page on another site cannot delete (the local API is open on loopback, not to the web).
        hostile = client.delete(f"/v1/results/{record.id}", headers={"Origin": "https://evil.example"})
        assert hostile.status_code == 403 and results.get(record.id) is not None
        response = client.delete(f"/v1/results/{record.id}")
        assert response.status_code == 204, response.text
        assert client.get(f"/v1/results/{record.id}").status_code == 404
        assert client.get(f"/v1/results/{record.id}/evidence.jpg").status_code == 404
        assert client.delete(f"/v1/results/{record.id}").status_code == 404
        allowed = client.request("PUT", f"/v1/results/{record.id}").headers["allow"]
        assert set(allowed.split(", ")) == {"GET", "DELETE"}
    nothing_left_of(record, settings)


def test_the_cli_deletes_results(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    media, results, _ = local_stores(settings)
    record = scanned(settings, media, results, labelled=True)
    assert main(["delete", record.id, "--data-dir", str(settings.data_dir)]) == 0
    assert record.id in capsys.readouterr().out
    nothing_left_of(record, settings)
    assert main(["delete", record.id, "--data-dir", str(settings.data_dir)]) == 1
    assert "no result" in capsys.readouterr().err


class DeletingDetector:
    """A scan during which the result is deleted (DELETE arrives while the file is scanned)."""

    def __init__(self, delete: Callable[[], None]) -> None:
        self.delete = delete

    def analyze(
        self, path: Any, *, display_path: str | None = None, progress: Any = None, pictures: bool = False
    ) -> Analysis:
        self.delete()
        result = DetectionResult(
            path=display_path or "x", status=Status.DONE, verdict=Verdict.REAL, score=0.1
        )
        return Analysis(result, np.zeros((8, 8, 3), dtype=np.uint8))


def test_a_result_deleted_during_its_scan_stays_deleted(settings: Settings) -> None:
    media, results, deleter = local_stores(settings)
    record = DetectionResult(path="clip.jpg", media_kind=MediaKind.IMAGE, status=Status.QUEUED)
    record.source = {"key": f"uploads/{record.id}/upload.jpg", "store": "local"}
    media.put(record.source["key"], b"upload")
    results.put(record)
    detector = DeletingDetector(lambda: deleter.delete(results.get(record.id)))  # type: ignore[arg-type]
    processor = LocalProcessor(settings, media, results, detector=detector)  # type: ignore[arg-type]
    processor.start()
    try:
        assert processor.submit(record.id).result(30) is None
    finally:
        processor.shutdown()
    # The scan wrote its evidence image after the delete; it removed it again with the rest.
    nothing_left_of(record, settings)


# ---------------------------------------------------------------- retention
def test_retention_deletes_old_results_and_their_files(settings: Settings) -> None:
    settings = settings.updated({"result_retention_days": 30})
    media, results, deleter = local_stores(settings)
    old = scanned(settings, media, results, created=T0 - timedelta(days=31), labelled=True)
    old_failed = scanned(settings, media, results, created=T0 - timedelta(days=40), status=Status.FAILED)
    old_pending = scanned(settings, media, results, created=T0 - timedelta(days=31), status=Status.PROCESSING)
    recent = scanned(settings, media, results, created=T0 - timedelta(days=29))
    sweeper = RetentionSweeper(settings, deleter, results, now=lambda: T0)
    assert sweeper.sweep() == 2
    nothing_left_of(old, settings)
    nothing_left_of(old_failed, settings)
    # A scan still running is left to finish; a recent result is kept.
    assert results.get(old_pending.id) is not None and results.get(recent.id) is not None
    assert media.exists(recent.source["key"]) and media.exists(recent.evidence.key)  # type: ignore[union-attr]
    assert sweeper.sweep() == 0


def test_without_retention_nothing_expires(settings: Settings) -> None:
    media, results, deleter = local_stores(settings)
    ancient = scanned(settings, media, results, created=T0 - timedelta(days=3650))
    assert RetentionSweeper(settings, deleter, results, now=lambda: T0).sweep() == 0
    assert results.get(ancient.id) is not None


def test_the_service_applies_retention_when_it_starts(settings: Settings) -> None:
    settings = settings.updated({"result_retention_days": 1, "service.retention_interval_s": 0.2})
    media, results, _ = local_stores(settings)
    old = scanned(settings, media, results, created=datetime.now(UTC) - timedelta(days=2))
    with TestClient(local_app(settings), base_url="http://127.0.0.1") as client:

        def gone(result_id: str) -> bool:
            return bool(client.get(f"/v1/results/{result_id}").status_code == 404)

        wait_until(lambda: gone(old.id), "the old result to be deleted at start", poll_s=0.1)
        # ... and periodically after: a result that ages past the limit while it runs goes too.
        later = scanned(settings, media, results, created=datetime.now(UTC) - timedelta(days=3))
        wait_until(lambda: gone(later.id), "the sweep to run again", poll_s=0.1)
    nothing_left_of(old, settings)
    nothing_left_of(later, settings)


def test_a_deleter_removes_a_pipelines_own_key_but_nothing_beside_it(tmp_path: Path) -> None:
    media = LocalMediaStore(tmp_path / "media")
    results = SQLiteResultStore(tmp_path / "results.sqlite3")
    record = DetectionResult(path="x.jpg", source={"key": "uploads/pipeline/x.jpg"})
    media.put("uploads/pipeline/x.jpg", b"x")
    media.put("uploads/pipeline/y.jpg", b"y")  # another file of the same folder
    results.put(record)
    ResultDeleter(media, results).delete(record)
    assert not media.exists("uploads/pipeline/x.jpg") and media.exists("uploads/pipeline/y.jpg")
