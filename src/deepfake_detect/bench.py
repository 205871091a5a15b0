"""`make bench`: per-stage latency (median, p95) for images and a video, cold start, peak RSS.

Timings on shared machines are noisy, so every figure is a median over repeated runs, printed
next to its target; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from deepfake_detect.settings import Settings, get_settings

TARGETS_MS = {"image_640x480_total": 25.0, "video_720p_total": 1500.0, "cold_start": 1000.0}
TARGET_RSS_MB = 500.0
STAGES = ("provenance", "decode", "detect", "align", "classify", "track", "total")

_CHILD = """
import json, resource, sys, time
start = time.perf_counter()
from deepfake_detect.core.pipeline import ScanPipeline
from deepfake_detect.settings import get_settings
detector = ScanPipeline(get_settings().pipeline())
loaded = time.perf_counter() - start
from pathlib import Path
for path in sys.argv[1:]:
    detector.analyze(Path(path))
print(json.dumps({"cold_start_ms": loaded * 1000,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def summarise(runs: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    out = {}
    for stage in STAGES:
        values = [r[stage] for r in runs if stage in r]
        if values:
            out[stage] = {
                "median_ms": round(statistics.median(values), 2),
                "p95_ms": round(percentile(values, 95), 2),
                "runs": len(values),
            }
    return out


def make_vga_face(shared: Path, folder: Path) -> Path:
    """A 640x480 photo with one face, cut from a shared portrait."""
    image = cv2.imread(str(shared / "data" / "deepface_photos" / "img10.jpg"))
    if image is None:
        raise FileNotFoundError("deepface_photos/img10.jpg not found under the shared folder")
    height, width = image.shape[:2]
    crop_h = min(height, int(width * 3 / 4))
    top = max(0, (height - crop_h) // 3)
    vga = cv2.resize(image[top : top + crop_h], (640, 480), interpolation=cv2.INTER_AREA)
    path = folder / "vga_one_face.jpg"
    cv2.imwrite(str(path), vga, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return path


def bench_file(detector: object, path: Path, repeats: int) -> list[dict[str, float]]:
    from deepfake_detect.core.pipeline import ScanPipeline

    assert isinstance(detector, ScanPipeline)
    detector.analyze(path)  # warm-up: first-call allocations are cold start, not steady state
    runs = []
    for _ in range(repeats):
        result = detector.analyze(path).result
        if result.error is not None:
            raise RuntimeError(f"{path}: {result.error.code}: {result.error.message}")
        runs.append(result.timings_ms)
    return runs


def run(settings: Settings, repeats: int, video_repeats: int) -> dict[str, object]:
    from deepfake_detect.core.pipeline import ScanPipeline

    shared = settings.shared_dir
    video = shared / "data" / "ffpp_c23" / "real_004.mp4"
    photos = sorted((shared / "data" / "deepface_photos").glob("*.jpg"))[:20]
    report: dict[str, object] = {
        "machine": {"cpus": _cpu_count(), "python": sys.version.split()[0], "opencv": cv2.__version__}
    }
    with tempfile.TemporaryDirectory() as tmp:
        vga = make_vga_face(shared, Path(tmp))
        detector = ScanPipeline(settings.pipeline())
        report["model"] = detector.model_info.model_dump()
        report["image_640x480_one_face"] = summarise(bench_file(detector, vga, repeats))
        photo_runs: list[dict[str, float]] = []
        for photo in photos:
            photo_runs.extend(bench_file(detector, photo, max(1, repeats // 10)))
        report["photos_up_to_2280px"] = {"files": len(photos), **summarise(photo_runs)}
        video_runs = bench_file(detector, video, video_repeats)
        capture = cv2.VideoCapture(str(video))
        video_info = {
            "file": video.name,
            "width": int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            "height": int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            "seconds": round(capture.get(cv2.CAP_PROP_FRAME_COUNT) / capture.get(cv2.CAP_PROP_FPS), 1),
            "sampled_frames": settings.video.sample_frames,
        }
        capture.release()
        report["video"] = {**video_info, **summarise(video_runs)}
        children = [_child(vga, video) for _ in range(3)]
    report["cold_start_ms"] = round(statistics.median(c["cold_start_ms"] for c in children), 1)
    report["peak_rss_mb"] = round(max(c["peak_rss_mb"] for c in children), 1)
    image_total = report["image_640x480_one_face"]["total"]["median_ms"]  # type: ignore[index]
    video_total = report["video"]["total"]["median_ms"]  # type: ignore[index]
    report["targets"] = {
        "image_640x480_total_ms": _check(image_total, TARGETS_MS["image_640x480_total"]),
        "video_720p_total_ms": _check(video_total, TARGETS_MS["video_720p_total"]),
        "cold_start_ms": _check(report["cold_start_ms"], TARGETS_MS["cold_start"]),  # type: ignore[arg-type]
        "peak_rss_mb": _check(report["peak_rss_mb"], TARGET_RSS_MB),  # type: ignore[arg-type]
    }
    return report


def _check(measured: float, target: float) -> dict[str, object]:
    return {
        "measured": measured,
        "target": target,
        "ratio": round(measured / target, 2),
        "met": measured <= target,
    }


def _child(*paths: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, *map(str, paths)], capture_output=True, text=True, check=True
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m deepfake_detect.bench", description=__doc__)
    parser.add_argument("--repeats", type=int, default=50, help="runs of the 640x480 image")
    parser.add_argument("--video-repeats", type=int, default=5, help="runs of the video")
    parser.add_argument("--json", type=Path, help="also write the report to this file")
    args = parser.parse_args()
    start = time.perf_counter()
    report = run(get_settings(), args.repeats, args.video_repeats)
    report["bench_seconds"] = round(time.perf_counter() - start, 1)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
