"""The fault-injection run of issue 24: the local service killed with SIGKILL at each step of an
upload and of its scan (tests/support/crash.py), a full disk and a read-only disk; after each, a
restarted service and the client's retry (the same ``Idempotency-Key``) must leave nothing lost,
stuck, orphaned or duplicated.

    nice -n 19 .venv/bin/pytest -q -s -p no:cacheprovider tests/service/test_fault_injection.py

prints one line per run and the totals (``-s`` shows them).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import astuple, dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from deepfake_detect.core.hashing import file_sha256
from deepfake_detect.core.result import Status
from deepfake_detect.local.retention import RetentionSweeper
from deepfake_detect.local.stores import SQLiteResultStore
from deepfake_detect.local.wiring import local_app
from deepfake_detect.local.worker import LocalProcessor
from deepfake_detect.settings import Settings
from tests.support.crash import STEPS
from tests.support.disks import tiny_tmpfs
from tests.support.local_api import LOCAL_URL, services_of

REPO = Path(__file__).resolve().parents[2]
KEY = "fault-run-1"


@dataclass
class Tally:
    lost: int = 0  # the upload has no finished result after the restart and the retry
    stuck: int = 0  # records still queued or processing once the restarted service is idle
    orphaned: int = 0  # files without a record, half-written copies, counts of finished scans
    duplicated: int = 0  # more than one record of the one upload


def tally(settings: Settings, sha256: str) -> Tally:
    results = SQLiteResultStore(settings.data_dir / "results.sqlite3")
    try:
        records = results.list(limit=100).items
        ids = {r.id for r in records}
        mine = [r for r in records if r.source.get("sha256") == sha256]
        media = settings.data_dir / "media"
        files = [p for p in media.rglob("*") if p.is_file()] if media.exists() else []
        strays = [
            p
            for p in files
            if p.name.endswith(".partial") or not any(part.split(".")[0] in ids for part in p.parts[-3:])
        ]
        db = sqlite3.connect(settings.data_dir / "results.sqlite3")
        try:
            stale_counts = db.execute(
                "SELECT COUNT(*) FROM attempts WHERE id NOT IN "
                "(SELECT id FROM results WHERE status IN ('queued', 'processing'))"
            ).fetchone()[0]
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            db.close()
        return Tally(
            lost=0 if any(r.status is Status.DONE for r in mine) else 1,
            stuck=sum(r.status in (Status.QUEUED, Status.PROCESSING) for r in records),
            orphaned=len(strays) + stale_counts,
            duplicated=max(0, len(mine) - 1),
        )
    finally:
        results.close()


def restart_and_retry(settings: Settings, photo: Path) -> None:
    """A new service over the same folder (resuming what was queued, sweeping orphans), then the
    client's retry of its upload with the same key."""
    settings = settings.updated({"service.orphan_grace_s": 0.001})
    with TestClient(local_app(settings), base_url=LOCAL_URL) as client:
        services = services_of(client)
        for task in services.background:
            if isinstance(task, RetentionSweeper):
                task.shutdown()
                task.sweep()  # the start-up sweep, here and now
        answer = client.post(
            "/v1/detect",
            files={"file": (photo.name, photo.read_bytes(), "image/jpeg")},
            headers={"Idempotency-Key": KEY},
        )
        assert answer.status_code in (200, 202), answer.text
        assert isinstance(services.processor, LocalProcessor)
        services.processor.flush(600)


def report(rows: list[tuple[str, Tally]]) -> Tally:
    total = Tally()
    for name, counts in rows:
        figures = f"lost={counts.lost} stuck={counts.stuck} orphaned={counts.orphaned}"
        print(f"{name:50} {figures} duplicated={counts.duplicated}")
        total = Tally(*(a + b for a, b in zip(astuple(total), astuple(counts), strict=True)))
    print(f"{len(rows)} runs, {len(rows)} faults injected: {total}")
    return total


def test_sigkill_at_every_step_of_an_upload_and_its_scan(
    settings: Settings, settings_env: dict[str, str], face_photo: Path, tmp_path: Path
) -> None:
    sha256 = file_sha256(face_photo)
    rows = []
    for index, step in enumerate(STEPS):
        run = settings.updated({"data_dir": tmp_path / f"run{index}"})
        env = {**settings_env, "DEEPFAKE_DATA_DIR": str(run.data_dir)}
        child = subprocess.run(
            [sys.executable, "-m", "tests.support.crash", step, str(face_photo), KEY],
            env=env,
            cwd=REPO,
            capture_output=True,
            timeout=600,
            check=False,
        )
        assert child.returncode == -9, (step, child.returncode, child.stderr.decode()[-2000:])
        restart_and_retry(run, face_photo)
        rows.append((f"SIGKILL {step}", tally(run, sha256)))
    total = report(rows)
    assert total == Tally(), rows


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs (root where mounts are allowed; skipped elsewhere)."""
    with tiny_tmpfs(tmp_path, "4m") as mount_point:
        yield mount_point


def _fill(folder: Path) -> Path:
    """Fill the disk under ``folder`` to the last byte."""
    filler = folder / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(bytes(64 * 1024))
                out.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk_and_a_read_only_disk(settings: Settings, face_photo: Path, tiny_disk: Path) -> None:
    settings = settings.updated({"data_dir": tiny_disk})
    sha256 = file_sha256(face_photo)
    photo = face_photo.read_bytes()
    rows = []
    with TestClient(local_app(settings), base_url=LOCAL_URL) as client:

        def upload() -> int:
            files = {"file": (face_photo.name, photo, "image/jpeg")}
            answer = client.post("/v1/detect", files=files, headers={"Idempotency-Key": KEY})
            return int(answer.status_code)

        filler = _fill(tiny_disk)
        assert upload() in (503, 507)
        assert client.get("/health").json()["status"] == "degraded"
        filler.unlink()
        assert upload() == 200
        rows.append(("full disk, then space again", tally(settings, sha256)))
        # The media folder read-only (a bind mount of itself, remounted read-only).
        media = tiny_disk / "media"
        first = client.get("/v1/results").json()["items"][0]["id"]
        assert subprocess.run(["mount", "--bind", str(media), str(media)], check=False).returncode == 0
        try:
            subprocess.run(["mount", "-o", "remount,bind,ro", str(media)], check=True)
            files = {"file": ("again.jpg", photo, "image/jpeg")}
            refused = client.post("/v1/detect", files=files, headers={"Idempotency-Key": "ro-1"})
            assert refused.status_code == 503, refused.text
            assert (
                refused.json()["detail"]["code"] == "storage_unavailable" and refused.headers["Retry-After"]
            )
            not_deleted = client.delete(f"/v1/results/{first}")
            assert not_deleted.status_code == 503, not_deleted.text
            assert client.get(f"/v1/results/{first}").status_code == 200  # still whole
        finally:
            subprocess.run(["umount", str(media)], check=True)
        rows.append(("read-only disk, then writable again", tally(settings, sha256)))
    total = report(rows)
    assert total == Tally(), rows
