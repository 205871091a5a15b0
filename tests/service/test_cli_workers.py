"""`deepfake-detect scan` with several workers: the same results, in the same order, as one."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest

from deepfake_detect.cli import main
from deepfake_detect.cli.batch import scan_files, workers_for
from deepfake_detect.core.result import DetectionResult
from tests.support.hostile import cut_and_closed
from tests.support.media import png_with_text, write_video

# What a result is, without what differs between any two runs (its id, time, timings).
VOLATILE = {"id", "created_at", "timings_ms"}


@pytest.fixture
def mixed_folder(tmp_path: Path, face_photo: Path, couple_photo: Path, shared_data: Path) -> Path:
    root = tmp_path / "mixed"
    (root / "sub").mkdir(parents=True)
    (root / "a_face.jpg").symlink_to(face_photo)
    (root / "b_couple.jpg").symlink_to(couple_photo)
    for i, photo in enumerate(sorted((shared_data / "web_photos").glob("*.jpg"))[:6]):
        (root / "sub" / f"web_{i}.jpg").symlink_to(photo)
    png_with_text(face_photo, root / "c_generated.png")
    (root / "d_cut.jpg").write_bytes(cut_and_closed(face_photo.read_bytes(), 0.5))
    write_video(root / "e_blank.mp4", 12)
    return root


def scan_json(folder: Path, workers: int, capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    code = main(["scan", "--json", "--workers", str(workers), str(folder)])
    out, _ = capsys.readouterr()
    assert code == 1  # the cut JPEG fails
    records = [DetectionResult.model_validate_json(line) for line in out.splitlines() if line.strip()]
    return [r.model_dump(mode="json", exclude=VOLATILE) for r in records]


def test_several_workers_give_the_sequential_results_in_the_same_order(
    settings_env: dict[str, str], mixed_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sequential = scan_json(mixed_folder, 1, capsys)
    parallel = scan_json(mixed_folder, 3, capsys)
    assert len(sequential) == 11
    assert [r["path"] for r in parallel] == [r["path"] for r in sequential]
    assert parallel == sequential
    assert sum(r["status"] == "failed" for r in parallel) == 1


class _SlowDetector:
    """Finishes files in a random order, from whichever thread runs it."""

    def __init__(self) -> None:
        self.threads: set[str] = set()

    def analyze(self, path: Path, **_: object) -> object:
        self.threads.add(threading.current_thread().name)
        time.sleep(random.uniform(0.0, 0.02))
        return type("A", (), {"result": DetectionResult(path=str(path))})()


def test_results_keep_the_order_of_the_files_whatever_order_they_finish_in() -> None:
    files = [Path(f"f{i:02d}.jpg") for i in range(30)]
    made = [_SlowDetector()]

    def more() -> _SlowDetector:
        made.append(_SlowDetector())
        return made[-1]

    results = list(scan_files(files, made[0], more, workers=3))  # type: ignore[arg-type]
    assert [r.path for r in results] == [str(f) for f in files]
    assert len(made) == 3 and all(len(d.threads) == 1 for d in made)  # a pipeline per thread


def test_worker_count() -> None:
    assert workers_for(1, 50) == 1
    assert workers_for(3, 2) == 2  # never more than files
    assert 1 <= workers_for(0, 50) <= 4
