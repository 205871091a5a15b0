"""store.local: the media folder and the SQLite result store."""

from __future__ import annotations

import base64
import io
import json
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from deepfake_detect.core.result import DetectionResult, Status, Verdict
from deepfake_detect.local.stores import LocalMediaStore, SQLiteResultStore
from tests.support.provenance import declared_result, full_provenance

T0 = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> SQLiteResultStore:
    return SQLiteResultStore(tmp_path / "db" / "results.sqlite3")


def record(n: int, status: Status = Status.DONE, created: datetime | None = None) -> DetectionResult:
    return DetectionResult(
        id=f"id{n:03d}", path=f"file{n}.jpg", status=status, created_at=created or T0 + timedelta(seconds=n)
    )


# --- media ----------------------------------------------------------------------------------


def test_media_put_get_bytes_and_streams(tmp_path: Path) -> None:
    media = LocalMediaStore(tmp_path / "media")
    media.put("uploads/a/photo.jpg", b"abc")
    media.put("uploads/b/video.mp4", io.BytesIO(b"x" * 3_000_000), "video/mp4")
    assert media.get("uploads/a/photo.jpg") == b"abc"
    assert media.exists("uploads/b/video.mp4") and not media.exists("uploads/c/none")
    with media.local_copy("uploads/b/video.mp4") as path:
        assert path.stat().st_size == 3_000_000
    assert not list((tmp_path / "media").rglob("*.partial"))


def test_media_missing_key(tmp_path: Path) -> None:
    media = LocalMediaStore(tmp_path)
    with pytest.raises(KeyError):
        media.get("nope")
    with pytest.raises(KeyError), media.local_copy("nope"):
        pass


def test_media_put_replaces(tmp_path: Path) -> None:
    media = LocalMediaStore(tmp_path)
    media.put("k", b"one")
    media.put("k", b"two")
    assert media.get("k") == b"two"


@pytest.mark.parametrize("key", ["../outside.jpg", "a/../../outside.jpg", "/etc/passwd", "", ".", "a/.."])
def test_media_key_escaping_the_folder_is_refused(tmp_path: Path, key: str) -> None:
    media = LocalMediaStore(tmp_path / "media")
    with pytest.raises(ValueError, match="escapes"):
        media.put(key, b"x")
    with pytest.raises(ValueError):
        media.get(key)
    assert not (tmp_path / "outside.jpg").exists()


def test_media_symlink_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("s")
    media = LocalMediaStore(tmp_path / "media")
    (tmp_path / "media" / "link").symlink_to(tmp_path / "secret")
    with pytest.raises(ValueError):
        media.get("link")


# --- results --------------------------------------------------------------------------------


def test_put_get_round_trip(store: SQLiteResultStore) -> None:
    original = DetectionResult(path="a.jpg", verdict=Verdict.REAL, score=0.25, threshold=0.5)
    store.put(original)
    assert store.get(original.id) == original
    assert store.get("missing") is None


def test_provenance_and_the_verdict_reason_round_trip(store: SQLiteResultStore) -> None:
    original = declared_result()
    store.put(original)
    got = store.get(original.id)
    assert got == original
    assert got is not None and got.provenance == full_provenance()
    assert (got.verdict, got.classifier_verdict, got.score) == (Verdict.FAKE, Verdict.REAL, 0.12)
    assert got.verdict_reason == original.verdict_reason
    assert store.list().items == [original]
    # The document is the same JSON the CLI prints and the API answers.
    (document,) = store._db.execute("SELECT document FROM results").fetchone()
    assert json.loads(document) == json.loads(original.model_dump_json())


def test_a_record_stored_before_provenance_still_loads(store: SQLiteResultStore) -> None:
    old = {"id": "old1", "path": "old.jpg", "status": "done", "verdict": "real", "score": 0.2}
    store._db.execute(
        "INSERT INTO results (id, created_at, status, document) VALUES (?, ?, ?, ?)",
        ("old1", "2020-01-01T00:00:00.000000+00:00", "done", json.dumps(old)),
    )
    got = store.get("old1")
    assert got is not None and got.verdict is Verdict.REAL
    assert got.provenance is None and got.verdict_reason is None and got.classifier_verdict is None
    assert [r.id for r in store.list().items] == ["old1"]


def test_put_replaces_by_id(store: SQLiteResultStore) -> None:
    first = record(1, Status.QUEUED)
    store.put(first)
    store.put(first.model_copy(update={"status": Status.DONE, "verdict": Verdict.FAKE}))
    got = store.get(first.id)
    assert got is not None and got.status is Status.DONE and got.verdict is Verdict.FAKE
    assert len(store.list(limit=10).items) == 1


def test_list_is_newest_first_and_paginates(store: SQLiteResultStore) -> None:
    for n in [3, 0, 4, 1, 2, 6, 5]:
        store.put(record(n))
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = store.list(limit=3, token=token)
        seen += [r.id for r in page.items]
        pages += 1
        token = page.next_token
        if token is None:
            break
    assert seen == [f"id{n:03d}" for n in [6, 5, 4, 3, 2, 1, 0]]
    assert pages == 3


def test_exact_page_size_has_no_dangling_token(store: SQLiteResultStore) -> None:
    for n in range(4):
        store.put(record(n))
    first = store.list(limit=2)
    second = store.list(limit=2, token=first.next_token)
    assert [r.id for r in second.items] == ["id001", "id000"]
    assert second.next_token is None


def test_same_timestamp_is_ordered_by_id_without_loss(store: SQLiteResultStore) -> None:
    for n in range(5):
        store.put(record(n, created=T0))
    first = store.list(limit=2)
    rest = store.list(limit=10, token=first.next_token)
    ids = [r.id for r in first.items + rest.items]
    assert sorted(ids) == [f"id{n:03d}" for n in range(5)] and len(set(ids)) == 5


def test_order_is_by_time_not_by_text_of_the_timestamp(store: SQLiteResultStore) -> None:
    """isoformat() drops zero microseconds and keeps foreign offsets; the order must not care."""
    store.put(record(1, created=datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)))
    store.put(record(2, created=datetime(2025, 1, 1, 12, 0, 0, 500, tzinfo=UTC)))
    plus_two = timezone(timedelta(hours=2))
    store.put(record(3, created=datetime(2025, 1, 1, 12, 30, 0, tzinfo=plus_two)))  # 10:30 UTC
    assert [r.id for r in store.list().items] == ["id002", "id001", "id003"]


def test_token_is_opaque_url_safe_text(store: SQLiteResultStore) -> None:
    for n in range(3):
        store.put(record(n))
    token = store.list(limit=1).next_token
    assert token is not None
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=")


@pytest.mark.parametrize(
    "token",
    [
        "not base64!",
        base64.urlsafe_b64encode(b"not json").decode(),
        base64.urlsafe_b64encode(b'{"a": 1, "b": 2}').decode(),
        base64.urlsafe_b64encode(b'["only one"]').decode(),
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        "\u00e9\u00e9",
    ],
)
def test_invalid_token_is_a_value_error(store: SQLiteResultStore, token: str) -> None:
    with pytest.raises(ValueError, match="invalid page token"):
        store.list(token=token)


def test_limit_must_be_positive(store: SQLiteResultStore) -> None:
    with pytest.raises(ValueError):
        store.list(limit=0)


def test_pending_lists_queued_and_processing_oldest_first(store: SQLiteResultStore) -> None:
    store.put(record(3, Status.QUEUED))
    store.put(record(1, Status.PROCESSING))
    store.put(record(2, Status.DONE))
    store.put(record(4, Status.FAILED))
    assert [r.id for r in store.pending()] == ["id001", "id003"]


def test_results_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite3"
    first = SQLiteResultStore(path)
    first.put(record(1, Status.QUEUED))
    first.close()
    again = SQLiteResultStore(path)
    assert [r.id for r in again.pending()] == ["id001"]


def test_concurrent_writers(store: SQLiteResultStore) -> None:
    def write(start: int) -> None:
        for n in range(start, start + 25):
            store.put(record(n))

    threads = [threading.Thread(target=write, args=(i * 25,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.list(limit=100).items) == 100
