"""The local stores' parts the service's guards rely on: deleting a refused upload, the attempt
counts that survive a crash, and page tokens that cannot crash the parser."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from deepfake_detect.core.result import DetectionResult
from deepfake_detect.local.stores import LocalMediaStore, SQLiteResultStore


def test_delete_removes_the_file_and_its_empty_folders_only(tmp_path: Path) -> None:
    media = LocalMediaStore(tmp_path / "media")
    media.put("uploads/a/upload.jpg", b"a")
    media.put("uploads/b/upload.jpg", b"b")
    media.delete("uploads/a/upload.jpg")
    assert not (tmp_path / "media" / "uploads" / "a").exists()
    assert media.exists("uploads/b/upload.jpg") and (tmp_path / "media").is_dir()
    media.delete("uploads/a/upload.jpg")  # already gone: fine
    with pytest.raises(ValueError, match="escapes"):
        media.delete("../outside.txt")


def test_deleting_a_record_forgets_its_attempts(tmp_path: Path) -> None:
    results = SQLiteResultStore(tmp_path / "r.sqlite3")
    record = DetectionResult(path="a.jpg")
    results.put(record)
    assert [results.begin_attempt(record.id) for _ in range(3)] == [1, 2, 3]
    results.close()
    again = SQLiteResultStore(tmp_path / "r.sqlite3")  # the counts outlive the process
    assert again.begin_attempt(record.id) == 4
    again.delete(record.id)
    assert again.get(record.id) is None and again.begin_attempt(record.id) == 1


@pytest.mark.parametrize(
    "raw", [b"[" * 100_000 + b"]" * 100_000, b'{"a": [1]}', b"[1, 2]", b"\xff\xfe", b'["a", "b", "c"]']
)
def test_a_hostile_page_token_is_a_value_error(tmp_path: Path, raw: bytes) -> None:
    results = SQLiteResultStore(tmp_path / "r.sqlite3")
    with pytest.raises(ValueError, match="invalid page token"):
        results.list(token=base64.urlsafe_b64encode(raw).decode())
