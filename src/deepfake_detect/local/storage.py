"""The local data folder's health and its orphans.

``StorageProbe`` is ``/health``'s storage check: the free space of the data folder against
``service.min_free_bytes``, and a small probe file written, flushed and removed (a read-only or
full disk fails it).

``sweep_orphans`` removes ``uploads/<id>/`` folders that have no record: an upload whose file was
stored but whose record never was (the process was killed in between). Only folders older than
``service.orphan_grace_s`` go, so an upload still between its two writes is never touched; the
retention sweeper runs it when the service starts and then periodically.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from deepfake_detect.api.services import StorageHealth
from deepfake_detect.store.base import ResultStore
from deepfake_detect.store.keys import UPLOAD_PREFIX

log = logging.getLogger(__name__)

PROBE_NAME = ".storage-probe"


class StorageProbe:
    def __init__(self, folder: Path, min_free_bytes: int) -> None:
        self.folder = folder
        self.min_free_bytes = min_free_bytes

    def __call__(self) -> StorageHealth:
        try:
            free = shutil.disk_usage(self.folder).free
        except OSError as exc:
            return StorageHealth(ok=False, problem=f"the data folder cannot be read: {exc.strerror or exc}")
        probe = self.folder / f"{PROBE_NAME}-{os.getpid()}"
        try:
            with probe.open("wb") as out:
                out.write(b"probe")
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            return StorageHealth(
                ok=False, free_bytes=free, problem=f"a file cannot be written: {exc.strerror or exc}"
            )
        finally:
            with contextlib.suppress(OSError):
                probe.unlink(missing_ok=True)
        if free < self.min_free_bytes:
            return StorageHealth(
                ok=False,
                free_bytes=free,
                problem=f"{free} bytes free, under the threshold of {self.min_free_bytes}",
            )
        return StorageHealth(ok=True, free_bytes=free)


def sweep_orphans(
    media_root: Path,
    results: ResultStore,
    grace_s: float,
    *,
    now: Callable[[], float] = time.time,
) -> int:
    """Remove every ``uploads/<id>/`` folder older than ``grace_s`` (by its newest modification)
    whose id has no record; returns how many folders went. One that cannot be removed is logged
    and tried again next time."""
    uploads = media_root / UPLOAD_PREFIX.rstrip("/")
    try:
        folders = [entry for entry in uploads.iterdir() if entry.is_dir() and not entry.is_symlink()]
    except (FileNotFoundError, NotADirectoryError):
        return 0
    removed = 0
    cutoff = now() - grace_s
    for folder in folders:
        try:
            if _newest_change(folder) > cutoff or results.get(folder.name) is not None:
                continue
            shutil.rmtree(folder)
        except FileNotFoundError:  # removed meanwhile (a deletion): nothing left to do
            continue
        except OSError:
            log.exception("could not remove the orphaned upload %s", folder.name)
            continue
        removed += 1
        log.info("removed the orphaned upload %s (no record after %.0f s)", folder.name, grace_s)
    return removed


def _newest_change(folder: Path) -> float:
    newest = folder.stat().st_mtime
    for entry in folder.iterdir():
        newest = max(newest, entry.stat().st_mtime)
    return newest
