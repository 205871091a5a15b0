"""`scan` over many files with every core: results in the order of the files, as a sequential run.

Each worker thread has its own pipeline (OpenCV's face detector keeps state; the classifier's ONNX
Runtime session would be safe to share, but each pipeline follows the registry on its own) and
runs single-threaded, so while one thread decodes a file (Pillow, libjpeg and FFmpeg let go of
the GIL) another detects and classifies the faces of the one before: two cores busy, with less
memory and no start-up cost of worker processes. Results come out in the order of the files,
whatever order they finish in; what each one is does not depend on how many workers ran.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from deepfake_detect.core.pipeline import ScanPipeline
from deepfake_detect.core.result import DetectionResult

# More workers than this buy little and each holds a decoded file and a pipeline in memory.
MAX_WORKERS = 4


class FrameBar(Protocol):
    """A video's frame progress (cli.progress.ProgressBar): called per frame, closed after."""

    def __call__(self, done: int, total: int) -> None: ...

    def close(self) -> None: ...


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def workers_for(requested: int, files: int) -> int:
    """``requested`` workers (0: one per CPU, at most ``MAX_WORKERS``), never more than files."""
    wanted = requested if requested > 0 else min(cpu_count(), MAX_WORKERS)
    return max(1, min(wanted, files))


def threads_per_worker(workers: int) -> int:
    """Threads each worker's ONNX Runtime and OpenCV may use: 0 (their own choice, every core)
    for a single worker, else the cores shared out."""
    return 0 if workers <= 1 else max(1, cpu_count() // workers)


def scan_files(
    files: Sequence[Path],
    detector: ScanPipeline,
    make_detector: Callable[[], ScanPipeline],
    *,
    workers: int,
    frame_bar: Callable[[Path], FrameBar] | None = None,
) -> Iterator[DetectionResult]:
    """Scan ``files`` and yield their results in the same order, ``frame_bar(path)`` reporting a
    video's frames.

    ``workers == 1``: ``detector`` scans them here, one after the other. More: that many threads,
    with ``detector`` and more from ``make_detector`` (made with ``threads_per_worker(workers)``
    threads each).
    """

    def scan(scanner: ScanPipeline, path: Path) -> DetectionResult:
        bar = frame_bar(path) if frame_bar else None
        try:
            return scanner.analyze(path, progress=bar).result
        finally:
            if bar is not None:
                bar.close()

    if workers <= 1:
        for path in files:
            yield scan(detector, path)
        return
    yield from _in_parallel(files, detector, make_detector, workers, scan)


def _in_parallel(
    files: Sequence[Path],
    detector: ScanPipeline,
    make_detector: Callable[[], ScanPipeline],
    workers: int,
    scan: Callable[[ScanPipeline, Path], DetectionResult],
) -> Iterator[DetectionResult]:
    import cv2

    previous = cv2.getNumThreads()
    cv2.setNumThreads(threads_per_worker(workers))  # OpenCV's pool is per process
    local = threading.local()
    lock = threading.Lock()
    spare = [detector]

    def scan_one(path: Path) -> DetectionResult:
        mine = getattr(local, "detector", None)
        if mine is None:
            with lock:
                mine = spare.pop() if spare else make_detector()
            local.detector = mine
        return scan(mine, path)

    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scan") as pool:
            # Twice as many files in flight as workers, no more: memory stays bounded.
            queue = iter(files)
            pending: list[Future[DetectionResult]] = []
            for path in queue:
                pending.append(pool.submit(scan_one, path))
                if len(pending) >= 2 * workers:
                    break
            while pending:
                result = pending.pop(0).result()
                following = next(queue, None)
                if following is not None:
                    pending.append(pool.submit(scan_one, following))
                yield result
    finally:
        cv2.setNumThreads(previous)
