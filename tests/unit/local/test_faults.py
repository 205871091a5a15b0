"""Faults without surprises (issue 24), in the local service: racing deletions, a result deleted
while its upload waits, a full or read-only disk, orphaned uploads, retried uploads.

Races are driven by hooks that run between two steps (a ``threading.Barrier`` where two threads
must meet), never by sleeps; storage faults are injected by making the os, shutil or sqlite call
raise what a full or read-only disk raises; one test fills a real 2 MB tmpfs (skipped where
mounting is not allowed).
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from deepfake_detect.core.errors import ErrorCode, failure_status, storage_fault
from deepfake_detect.core.result import DetectionResult, MediaKind, Status
from deepfake_detect.local.retention import RetentionSweeper
from deepfake_detect.local.storage import StorageProbe, sweep_orphans
from deepfake_detect.local.stores import LocalMediaStore, SQLiteResultStore
from deepfake_detect.local.webhooks import EVENTS_FILE, SQLiteDeliveryLog
from deepfake_detect.local.wiring import local_app, local_stores
from deepfake_detect.local.worker import LocalProcessor
from deepfake_detect.settings import Settings
from tests.support.disks import tiny_tmpfs
from tests.support.local_api import LOCAL_URL, services_of
from tests.support.wait import wait_until


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def post(client: TestClient, data: bytes, name: str = "photo.jpg", **headers: str) -> Any:
    return client.post("/v1/detect", files={"file": (name, data, "image/jpeg")}, headers=headers)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(local_app(settings), base_url=LOCAL_URL) as test_client:
        yield test_client


def no_trace_of(result_id: str, settings: Settings) -> None:
    """Neither a record nor a file of ``result_id`` is left."""
    results = SQLiteResultStore(settings.data_dir / "results.sqlite3")
    assert results.get(result_id) is None
    assert [p for p in files_under(settings.data_dir / "media") if result_id in str(p)] == []


def only_records(settings: Settings) -> list[DetectionResult]:
    return SQLiteResultStore(settings.data_dir / "results.sqlite3").list(limit=100).items


# ---------------------------------------------------------------- 1. deletion races
def test_delete_prefix_skips_what_another_deletion_removed_first(tmp_path: Path) -> None:
    media = LocalMediaStore(tmp_path / "media")
    other = LocalMediaStore(tmp_path / "media")
    for key in (
        "uploads/abc/upload.jpg",
        "uploads/abc/nested/part",
        "evidence/abc.jpg",
        "evidence/abc/f/1.jpg",
    ):
        media.put(key, b"x")
    for prefix in ("uploads/abc/", "evidence/abc"):
        # Between listing and removing, the other deletion removes everything first.
        media.between = lambda entry, prefix=prefix: other.delete_prefix(prefix)  # type: ignore[misc]
        assert media.delete_prefix(prefix) == 0
    assert files_under(tmp_path / "media") == []


def test_two_threads_delete_one_prefix_at_once(tmp_path: Path) -> None:
    root = tmp_path / "media"
    LocalMediaStore(root).put("uploads/abc/upload.jpg", b"x")
    LocalMediaStore(root).put("uploads/abc/more/part", b"x")
    both_listed = threading.Barrier(2, timeout=10)
    stores = [LocalMediaStore(root), LocalMediaStore(root)]
    for store in stores:  # neither removes a thing before both have listed the folder
        store.between = lambda entry: both_listed.wait()
    with ThreadPoolExecutor(2) as pool:
        counts = list(pool.map(lambda store: store.delete_prefix("uploads/abc/"), stores))
    assert sum(counts) <= 2 * 2 and files_under(root) == []


def test_concurrent_deletes_of_one_result_answer_204_or_404(client: TestClient, face_photo: Path) -> None:
    result_id = post(client, face_photo.read_bytes()).json()["id"]
    media = services_of(client).media
    assert isinstance(media, LocalMediaStore)
    both_listed = threading.Barrier(2, timeout=10)
    media.between = lambda entry: both_listed.wait()
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: client.delete(f"/v1/results/{result_id}"), range(2)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses in ([204, 204], [204, 404]), [a.text for a in answers]
    assert client.delete(f"/v1/results/{result_id}").status_code == 404
    no_trace_of(result_id, client.app.state.services.settings)  # type: ignore[attr-defined]


def _delete_now(client: TestClient, result_id: str) -> None:
    services = services_of(client)
    assert services.deleter is not None
    record = services.results.get(result_id)
    assert record is not None
    services.deleter.delete(record)


@pytest.mark.parametrize(
    ("step", "when"),
    [("_scan", "as the scan starts"), ("precheck", "after the precheck, before the scan is queued")],
)
def test_an_upload_deleted_while_it_is_queued_or_scanned_answers_410(
    client: TestClient,
    face_photo: Path,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    step: str,
    when: str,
) -> None:
    processor = services_of(client).processor
    assert isinstance(processor, LocalProcessor)
    original = getattr(processor, step)

    def deleted_meanwhile(*args: Any) -> Any:
        record: DetectionResult = args[-1]
        if step == "_scan":
            _delete_now(client, record.id)  # DELETE (from the history) arrives as the scan starts
            return original(*args)
        answer = original(*args)
        _delete_now(client, record.id)  # ... or before the scan is queued
        return answer

    monkeypatch.setattr(processor, step, deleted_meanwhile)
    response = post(client, face_photo.read_bytes())
    assert response.status_code == 410, (when, response.text)
    body = response.json()["detail"]
    assert body["code"] == ErrorCode.RESULT_DELETED.value
    no_trace_of(body["result_id"], settings)
    assert only_records(settings) == []


def test_an_upload_deleted_before_its_precheck_is_recorded_answers_410(
    client: TestClient, face_photo: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deleted while its header is probed: the precheck's write of a failed record is refused."""
    media = services_of(client).media
    local_copy = media.local_copy
    seen: list[str] = []

    def delete_then_copy(key: str) -> Any:
        result_id = key.split("/")[1]
        if not seen:
            seen.append(result_id)
            _delete_now(client, result_id)
        return local_copy(key)

    monkeypatch.setattr(media, "local_copy", delete_then_copy)
    response = post(client, face_photo.read_bytes())
    assert response.status_code == 410, response.text
    no_trace_of(seen[0], settings)


# ---------------------------------------------------------------- 2. storage faults
@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), ErrorCode.INSUFFICIENT_STORAGE),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), ErrorCode.INSUFFICIENT_STORAGE),
        (OSError(errno.EROFS, "Read-only file system"), ErrorCode.STORAGE_UNAVAILABLE),
        (sqlite3.OperationalError("database or disk is full"), ErrorCode.INSUFFICIENT_STORAGE),
        (sqlite3.OperationalError("attempt to write a readonly database"), ErrorCode.STORAGE_UNAVAILABLE),
        (OSError(errno.ENOENT, "gone"), None),
        (sqlite3.OperationalError("no such table: x"), None),
        (ValueError("x"), None),
    ],
)
def test_storage_faults_are_recognised(exc: BaseException, code: ErrorCode | None) -> None:
    assert storage_fault(exc) is code
    wrapped = RuntimeError("store failed")
    wrapped.__cause__ = exc
    assert storage_fault(wrapped) is code
    if code is not None:
        assert failure_status(code) == (507 if code is ErrorCode.INSUFFICIENT_STORAGE else 503)


def _full_disk_copy(source: Any, out: Any, length: int = 0) -> None:
    out.write(source.read(1000))  # a little is written, then the disk is full
    raise OSError(errno.ENOSPC, "No space left on device")


def assert_storage_answer(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["detail"]["code"] == code
    assert int(response.headers["Retry-After"]) >= 1


def test_a_full_disk_while_storing_the_upload_answers_507(
    client: TestClient, face_photo: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "copyfileobj", _full_disk_copy)
    assert_storage_answer(post(client, face_photo.read_bytes()), 507, "insufficient_storage")
    assert files_under(settings.data_dir / "media") == []  # no half-written copy stays behind
    assert only_records(settings) == []


def test_a_full_database_answers_507(
    client: TestClient, face_photo: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = services_of(client).results

    def full(record: DetectionResult) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(results, "put", full)
    assert_storage_answer(post(client, face_photo.read_bytes()), 507, "insufficient_storage")
    monkeypatch.undo()
    assert files_under(settings.data_dir / "media") == [] and only_records(settings) == []


def test_a_read_only_media_folder_answers_503_on_upload_and_delete(
    client: TestClient, face_photo: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = face_photo.read_bytes()
    result_id = post(client, photo).json()["id"]

    def read_only(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(Path, "open", read_only)
    assert_storage_answer(post(client, photo), 503, "storage_unavailable")
    monkeypatch.setattr(Path, "unlink", read_only)
    monkeypatch.setattr(shutil, "rmtree", read_only)
    assert_storage_answer(client.delete(f"/v1/results/{result_id}"), 503, "storage_unavailable")
    monkeypatch.undo()
    assert client.get(f"/v1/results/{result_id}").status_code == 200  # nothing half-deleted
    assert client.delete(f"/v1/results/{result_id}").status_code == 204
    no_trace_of(result_id, settings)
    assert only_records(settings) == []


def test_a_done_result_is_not_answered_as_a_failure_when_a_clean_up_write_fails(
    client: TestClient, face_photo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = services_of(client).results

    def full(result_id: str) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(results, "end_attempts", full)  # after the result was stored
    response = post(client, face_photo.read_bytes())
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "done"
    assert client.get(f"/v1/results/{response.json()['id']}").json()["status"] == "done"


def test_a_full_disk_while_writing_the_evidence_fails_the_scan_with_507(
    client: TestClient, face_photo: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    media = services_of(client).media
    put = media.put

    def no_room_for_pictures(key: str, data: Any, content_type: str | None = None) -> None:
        if key.startswith("evidence/"):
            raise OSError(errno.ENOSPC, "No space left on device")
        put(key, data, content_type)

    monkeypatch.setattr(media, "put", no_room_for_pictures)
    response = post(client, face_photo.read_bytes())
    assert_storage_answer(response, 507, "insufficient_storage")
    result_id = response.json()["detail"]["result_id"]
    record = client.get(f"/v1/results/{result_id}").json()
    assert record["status"] == "failed" and record["error"]["code"] == "insufficient_storage"


def test_health_reports_degraded_storage(
    client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["storage"] == "ok" and health["free_bytes"] > 0
    services = services_of(client)
    services.storage_health = StorageProbe(settings.data_dir, min_free_bytes=1 << 62)
    health = client.get("/health").json()
    assert health["status"] == "degraded" and "under the threshold" in health["storage_problem"]

    def read_only(fd: int) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    services.storage_health = StorageProbe(settings.data_dir, min_free_bytes=0)
    monkeypatch.setattr(os, "fsync", read_only)
    answer = client.get("/health")
    assert answer.status_code == 200 and answer.json()["status"] == "degraded"
    assert "cannot be written" in answer.json()["storage_problem"]
    assert str(settings.data_dir) not in answer.text


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs (root and a mount-capable container only)."""
    with tiny_tmpfs(tmp_path, "2m") as mount_point:
        yield mount_point


def test_a_real_full_disk(tiny_disk: Path, settings: Settings, face_photo: Path) -> None:
    settings = settings.model_copy(update={"data_dir": tiny_disk})
    big = b"\xff\xd8\xff\xe0" + bytes(3 * 1024 * 1024)  # over the 2 MB disk
    with TestClient(local_app(settings), base_url=LOCAL_URL) as client:
        assert_storage_answer(post(client, big, "big.jpg"), 507, "insufficient_storage")
        assert client.get("/health").json()["status"] == "degraded"  # 2 MB free: under the threshold
        assert files_under(tiny_disk / "media") == [] and only_records(settings) == []
        # Space again: the service goes on, nothing of the refused upload is in the way.
        response = post(client, face_photo.read_bytes())
        assert response.status_code == 200, response.text
    db = sqlite3.connect(tiny_disk / "results.sqlite3")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT status FROM results").fetchall() == [("done",)]
    finally:
        db.close()


# ---------------------------------------------------------------- 3. orphans and retries
def _age(folder: Path, seconds_ago: float) -> None:
    then = datetime.now(UTC).timestamp() - seconds_ago
    for path in [folder, *folder.rglob("*")]:
        os.utime(path, (then, then))


def test_the_sweep_removes_old_uploads_without_records(settings: Settings) -> None:
    media, results, deleter = local_stores(settings)
    kept = DetectionResult(path="a.jpg", media_kind=MediaKind.IMAGE, status=Status.QUEUED)
    kept.source = {"key": f"uploads/{kept.id}/upload.jpg", "store": "local"}
    media.put(kept.source["key"], b"x")
    results.put(kept)
    media.put("uploads/orphan1/upload.jpg", b"x")  # killed between the file and its record
    media.put("uploads/young1/upload.jpg", b"x")  # an upload still between its two writes
    _age(media.root / "uploads" / kept.id, 7200)
    _age(media.root / "uploads" / "orphan1", 7200)
    assert sweep_orphans(media.root, results, 3600) == 1
    assert not (media.root / "uploads" / "orphan1").exists()
    assert media.exists(kept.source["key"]) and media.exists("uploads/young1/upload.jpg")
    # The retention sweeper runs it (without retention days set, too).
    _age(media.root / "uploads" / "young1", 7200)
    sweeper = RetentionSweeper(settings, deleter, results, media_root=media.root)
    assert sweeper.sweep() == 0 and not (media.root / "uploads" / "young1").exists()
    assert media.exists(kept.source["key"])


def test_the_service_sweeps_orphans_when_it_starts(settings: Settings) -> None:
    media = LocalMediaStore(settings.data_dir / "media")
    media.put("uploads/orphan2/upload.jpg", b"x")
    _age(media.root / "uploads" / "orphan2", settings.service.orphan_grace_s + 60)
    with TestClient(local_app(settings), base_url=LOCAL_URL):
        # The sweeper's thread sweeps as soon as it starts (the service does not wait for it).
        wait_until(lambda: not (media.root / "uploads" / "orphan2").exists(), "the start-up sweep")


def test_a_retried_upload_answers_with_the_first_result(
    client: TestClient, face_photo: Path, couple_photo: Path, settings: Settings
) -> None:
    first = post(client, face_photo.read_bytes(), **{"Idempotency-Key": "k-1"})
    assert first.status_code == 200 and "Idempotent-Replayed" not in first.headers
    again = post(client, face_photo.read_bytes(), **{"Idempotency-Key": "k-1"})
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert len(only_records(settings)) == 1  # scanned once
    other = post(client, couple_photo.read_bytes(), **{"Idempotency-Key": "k-1"})
    assert other.status_code == 422 and other.json()["detail"]["code"] == "idempotency_key_reused"
    assert len(only_records(settings)) == 1
    assert post(client, face_photo.read_bytes(), **{"Idempotency-Key": "x" * 201}).status_code == 400
    # Deleting the result frees its key: the same upload again is a new one.
    assert client.delete(f"/v1/results/{first.json()['id']}").status_code == 204
    fresh = post(client, face_photo.read_bytes(), **{"Idempotency-Key": "k-1"})
    assert fresh.status_code == 200 and fresh.json()["id"] != first.json()["id"]


def test_two_uploads_with_one_key_at_once_store_one_result(
    client: TestClient, face_photo: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both pass the first look-up before either stores its record; the store lets one in."""
    idempotency = services_of(client).idempotency
    assert idempotency is not None
    find = idempotency.find_idempotent
    both_looked = threading.Barrier(2, timeout=10)

    def find_then_wait(owner: str, key: str) -> DetectionResult | None:
        found = find(owner, key)
        both_looked.wait()
        return found

    monkeypatch.setattr(idempotency, "find_idempotent", find_then_wait)
    photo = face_photo.read_bytes()
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: post(client, photo, **{"Idempotency-Key": "k-2"}), range(2)))
    # The winner waits for its scan (200); the other is answered with the same record, finished
    # or still queued (202: the client polls it).
    assert sorted(a.status_code for a in answers) in ([200, 200], [200, 202]), [a.text for a in answers]
    assert answers[0].json()["id"] == answers[1].json()["id"]
    records = only_records(settings)
    assert len(records) == 1
    uploads = {p.parent.name for p in files_under(settings.data_dir / "media" / "uploads")}
    assert uploads <= {records[0].id}  # the loser's file is gone


def test_keys_are_per_owner(tmp_path: Path) -> None:
    results = SQLiteResultStore(tmp_path / "results.sqlite3")
    mine = DetectionResult(path="a.jpg", owner="me")
    theirs = DetectionResult(path="a.jpg", owner="them")
    assert results.put_idempotent(mine, "k") is None
    assert results.put_idempotent(theirs, "k") is None
    again = DetectionResult(path="a.jpg", owner="me")
    holder = results.put_idempotent(again, "k")
    assert holder is not None and holder.id == mine.id and results.get(again.id) is None
    assert results.find_idempotent("them", "k").id == theirs.id  # type: ignore[union-attr]


# ---------------------------------------------------------------- 5. webhook rows go with the result
def test_deleting_a_result_removes_its_webhook_deliveries(settings: Settings) -> None:
    log = SQLiteDeliveryLog(settings.data_dir / EVENTS_FILE)
    log.add("e1", "r1", "done", "http://127.0.0.1:9/hook", b"{}", due=0.0)
    log.record("e1", "http://127.0.0.1:9/hook", 1, 500, "boom", 1.0, "pending", 10.0)
    log.add("e2", "r2", "done", "http://127.0.0.1:9/hook", b"{}", due=0.0)
    _, results, deleter = local_stores(settings)  # finds the log the webhook left
    record = DetectionResult(id="r1", path="a.jpg", status=Status.DONE)
    results.put(record)
    deleter.delete(record)
    assert log.for_result("r1") == [] and len(log.for_result("r2")) == 1
    # An attempt that finishes after the deletion is not recorded for a row that is gone.
    log.record("e1", "http://127.0.0.1:9/hook", 2, 200, None, 1.0, "delivered", None)
    assert log.get("e1") is None
    count = log._db.execute("SELECT COUNT(*) FROM delivery_attempts WHERE event_id = 'e1'").fetchone()[0]
    assert count == 0
