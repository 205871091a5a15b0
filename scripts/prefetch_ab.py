"""Does decoding a video's next sample ahead pay on this machine? Scans the same videos with and
without ``core.prefetch`` (interleaved, so both see the same load) and prints the medians.

    .venv/bin/python scripts/prefetch_ab.py ../shared/data/ffpp_c23/real_{004,634}.mp4
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from deepfake_detect.core import pipeline as module
from deepfake_detect.core.prefetch import Prefetch
from deepfake_detect.settings import Settings


class InOrder:
    """``Prefetch``'s interface, decoding each frame only when it is asked for."""

    def __init__(self, items: Iterator[Any], depth: int = 1) -> None:
        self.items = items

    def __enter__(self) -> Iterator[Any]:
        return self.items

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("videos", type=Path, nargs="+")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--frames", type=int, default=32)
    args = parser.parse_args()
    scanner = module.ScanPipeline(Settings().updated({"video.sample_frames": args.frames}).pipeline())
    times: dict[str, list[float]] = {"prefetch": [], "in order": []}
    for _ in range(args.rounds):
        for mode, kind in (("prefetch", Prefetch), ("in order", InOrder)):
            module.Prefetch = kind  # type: ignore[misc, assignment]
            for video in args.videos:
                start = time.perf_counter()
                scanner.analyze(video)
                times[mode].append((time.perf_counter() - start) * 1000)
    for mode, values in times.items():
        print(f"{mode}: median {statistics.median(values):.0f} ms over {len(values)} scans")


if __name__ == "__main__":
    main()
